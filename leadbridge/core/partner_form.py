"""A partner profile as people type it into a form: text fields in, a validated ``Partner`` out.

Rules:
- every value goes through the ``Partner`` model (``core/partner.py``), the same one the CLI, the
  CSV import and the REST API use, so a form can store nothing the API would refuse;
- lists are typed comma- or line-separated; postal ranges as ``80000-81999``; certifications one
  per line as ``name`` or ``name:level`` or ``name:level:YYYY-MM-DD`` (expiry); contacts one per
  line as ``email`` or ``email, name``; an empty field means "none" (capacity: "no limit");
- a bad value raises ``FormError`` naming each field and what is wrong with it; nothing is stored;
- fields the form does not show (connection, coordinates, tags, …) keep the partner's stored values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from pydantic import ValidationError

from leadbridge.core.partner import Partner

CAPACITY_FIELDS = ("max_open", "per_day", "per_week", "per_month")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FormError(ValueError):
    """What is wrong with a submitted partner form, one ``field: problem`` per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def split_list(text: str) -> list[str]:
    """Items of a comma- or line-separated field, stripped, empties dropped."""
    return [item.strip() for item in re.split(r"[,\n;]", text or "") if item.strip()]


def _lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _day(value: str, field: str, problems: list[str]) -> date | None:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"{field}: {value.strip()!r} is not a date YYYY-MM-DD")
        return None


def _count(value: str, field: str, problems: list[str]) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        problems.append(f"{field}: {value!r} must be a whole number from 0 (empty: no limit)")
        return None
    return int(value)


def capacity_from(form: Mapping[str, str], problems: list[str]) -> dict[str, int | None]:
    """The capacity limits of a form (``capacity_max_open`` …)."""
    return {
        name: _count(form.get(f"capacity_{name}", ""), f"capacity {name}", problems)
        for name in CAPACITY_FIELDS
    }


def paused_until_from(value: str, problems: list[str]) -> datetime | None:
    """A pause ends at the start of the day given (UTC); empty means not paused."""
    value = (value or "").strip()
    if not value:
        return None
    day = _day(value, "paused until", problems)
    return datetime.combine(day, time(0), UTC) if day else None


def holidays_from(text: str, problems: list[str]) -> list[date]:
    """Days from a list; ``2026-12-24..2026-12-31`` adds every day of the range."""
    days: set[date] = set()
    for item in split_list(text):
        start_text, dots, end_text = item.partition("..")
        start = _day(start_text, "holidays", problems)
        end = _day(end_text, "holidays", problems) if dots else start
        if start is None or end is None:
            continue
        if end < start or (end - start).days > 366:
            problems.append(f"holidays: {item!r} must run forwards and span at most a year")
            continue
        days.update(date.fromordinal(n) for n in range(start.toordinal(), end.toordinal() + 1))
    return sorted(days)


def _postal_ranges(text: str, problems: list[str]) -> list[dict[str, str]]:
    ranges = []
    for item in split_list(text):
        start, dash, end = item.partition("-")
        if not dash or not start.strip() or len(start.strip()) != len(end.strip()):
            problems.append(f"postal ranges: {item!r} must be START-END of equal length (80000-81999)")
            continue
        ranges.append({"start": start.strip(), "end": end.strip()})
    return ranges


def _certifications(text: str, problems: list[str]) -> list[dict[str, Any]]:
    found = []
    for line in _lines(text):
        parts = [part.strip() for part in line.split(":")]
        item: dict[str, Any] = {"name": parts[0]}
        if len(parts) > 1 and parts[1]:
            if not parts[1].isdigit():
                problems.append(f"certifications: level {parts[1]!r} in {line!r} must be a number from 1")
                continue
            item["level"] = int(parts[1])
        if len(parts) > 2 and parts[2]:
            expires = _day(parts[2], "certifications", problems)
            if expires is None:
                continue
            item["expires"] = expires
        found.append(item)
    return found


def _contacts(text: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Contacts by line; a contact already stored keeps its phone, role and language."""
    known = {str(c.get("email", "")).lower(): c for c in existing}
    contacts = []
    for line in _lines(text):
        email, _, name = line.partition(",")
        email = email.strip()
        contact = dict(known.get(email.lower(), {}))
        contact["email"] = email
        contact["name"] = name.strip() or contact.get("name")
        contacts.append(contact)
    return contacts


def _business_hours(form: Mapping[str, str], problems: list[str]) -> dict[str, Any] | None:
    if not form.get("hours_start", "").strip() and not form.get("hours_end", "").strip():
        return None
    days = [i for i, name in enumerate(WEEKDAYS) if form.get(f"hours_{name}")]
    hours: dict[str, Any] = {
        "timezone": form.get("hours_timezone", "").strip() or "Europe/Berlin",
        "weekdays": days,
    }
    for key in ("start", "end"):
        value = form.get(f"hours_{key}", "").strip()
        try:
            hours[key] = time.fromisoformat(value)
        except ValueError:
            problems.append(f"business hours {key}: {value!r} is not a time HH:MM")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(hours["timezone"])
    except (KeyError, ValueError):
        problems.append(f"business hours timezone: {hours['timezone']!r} is not a known time zone")
    return hours


def _model_problems(error: ValidationError) -> list[str]:
    return [
        f"{' '.join(str(p) for p in e['loc'] if not isinstance(p, int)) or 'partner'}: {e['msg']}"
        for e in error.errors()
    ]


def validated(data: dict[str, Any], problems: list[str]) -> Partner:
    """``data`` as a ``Partner``; raises ``FormError`` with ``problems`` and the model's own."""
    try:
        partner = Partner.model_validate(data)
    except ValidationError as error:
        raise FormError(problems + _model_problems(error)) from None
    if problems:
        raise FormError(problems)
    return partner


def partner_from_form(form: Mapping[str, str], base: Partner | None = None) -> Partner:
    """The partner the cockpit form describes, on top of ``base`` (the stored one) if editing."""
    problems: list[str] = []
    data = base.model_dump(mode="json") if base is not None else {}
    name = form.get("name", "").strip()
    if not name:
        problems.append("name: a partner needs a name")
    data["name"] = name or "?"
    data["external_id"] = form.get("external_id", "").strip() or None
    if "home_account_id" in form or base is None:
        data["home_account_id"] = form.get("home_account_id", "").strip() or None
    data["tier"] = form.get("tier", "registered").strip() or "registered"
    data["active"] = bool(form.get("active"))
    data["territory"] = {
        **data.get("territory", {}),
        "countries": split_list(form.get("countries", "")),
        "postal_prefixes": split_list(form.get("postal_prefixes", "")),
        "postal_ranges": _postal_ranges(form.get("postal_ranges", ""), problems),
    }
    data["product_lines"] = split_list(form.get("product_lines", ""))
    data["certifications"] = _certifications(form.get("certifications", ""), problems)
    data["contacts"] = _contacts(form.get("contacts", ""), data.get("contacts", []))
    data["capacity"] = capacity_from(form, problems)
    data["availability"] = {
        "paused_until": paused_until_from(form.get("paused_until", ""), problems),
        "holidays": holidays_from(form.get("holidays", ""), problems),
        "business_hours": _business_hours(form, problems),
    }
    if "location_postal_code" in form or base is None:
        data["location_postal_code"] = form.get("location_postal_code", "").strip() or None
        data["location_country"] = form.get("location_country", "").strip() or None
    try:
        return validated(data, problems)
    except ValueError as error:  # a country name the model cannot place raises a plain ValueError
        if isinstance(error, FormError):
            raise
        raise FormError([*problems, str(error)]) from None


def day_ranges(days: list[date]) -> list[str]:
    """Days as the holidays field shows them: runs of consecutive days as ``first..last``."""
    runs: list[list[date]] = []
    for day in sorted(set(days)):
        if runs and (day - runs[-1][-1]).days == 1:
            runs[-1].append(day)
        else:
            runs.append([day])
    return [f"{r[0].isoformat()}..{r[-1].isoformat()}" if len(r) > 1 else r[0].isoformat() for r in runs]


def form_from_partner(partner: Partner) -> dict[str, str]:
    """The form fields showing ``partner`` (what ``partner_from_form`` reads back)."""
    availability = partner.availability
    hours = availability.business_hours
    form = {
        "name": partner.name,
        "external_id": partner.external_id or "",
        "home_account_id": partner.home_account_id or "",
        "tier": partner.tier.value,
        "active": "on" if partner.active else "",
        "countries": ", ".join(partner.territory.countries),
        "postal_prefixes": ", ".join(partner.territory.postal_prefixes),
        "postal_ranges": ", ".join(f"{r.start}-{r.end}" for r in partner.territory.postal_ranges),
        "product_lines": ", ".join(partner.product_lines),
        "certifications": "\n".join(
            ":".join([c.name, str(c.level), c.expires.isoformat() if c.expires else ""]).rstrip(":")
            for c in partner.certifications
        ),
        "contacts": "\n".join(f"{c.email}, {c.name}" if c.name else str(c.email) for c in partner.contacts),
        "paused_until": availability.paused_until.date().isoformat() if availability.paused_until else "",
        "holidays": ", ".join(day_ranges(availability.holidays)),
        "location_postal_code": partner.location_postal_code or "",
        "location_country": partner.location_country or "",
        "hours_timezone": hours.timezone if hours else "Europe/Berlin",
        "hours_start": hours.start.strftime("%H:%M") if hours else "",
        "hours_end": hours.end.strftime("%H:%M") if hours else "",
    }
    for name in CAPACITY_FIELDS:
        value = getattr(partner.capacity, name)
        form[f"capacity_{name}"] = "" if value is None else str(value)
    for index, day in enumerate(WEEKDAYS):
        form[f"hours_{day}"] = "on" if (hours.weekdays if hours else [0, 1, 2, 3, 4]).count(index) else ""
    return form
