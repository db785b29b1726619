"""CSV files of leads and partners: read, validate every row, report bad rows by line number.

Rules:
- the file is UTF-8 (a BOM is fine) unless ``encoding`` says otherwise; undecodable bytes are an
  error naming the line, never silently replaced;
- the delimiter is sniffed (``,`` or ``;`` — Excel in German locales writes ``;``);
- every row is validated before anything is imported; a row repeating an earlier row's key
  (external id, else e-mail for leads / name for partners) is reported as a duplicate of that line;
- list cells use ``;`` or ``|`` between items (``heat_pumps;solar``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Generic, TypeVar

from pydantic import ValidationError

from leadbridge.connectors.csvstream import CsvFileError as CsvFileError  # re-exported: callers catch it here
from leadbridge.connectors.csvstream import CsvStream, KeyLedger, RowError
from leadbridge.core.history import History
from leadbridge.core.model import Lead
from leadbridge.core.partner import (
    Capacity,
    Certification,
    Partner,
    PartnerContact,
    PostalRange,
    Radius,
    Territory,
)

T = TypeVar("T")

LEAD_COLUMNS = (
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "website",
    "industry",
    "employees",
    "annual_revenue",
    "street",
    "postal_code",
    "city",
    "state",
    "country",
    "latitude",
    "longitude",
    "product_interests",
    "language",
    "score",
    "stage",
    "campaign",
    "source",
    "consent_share",
    "consent_marketing",
)
# A closed lead's past (``core/history.py``): present when ``outcome`` is filled in.
HISTORY_COLUMNS = (
    "outcome",
    "partner",
    "received_at",
    "offered_at",
    "accepted_at",
    "closed_at",
    "amount",
    "currency",
    "lost_reason",
)
# Columns that are no custom field of a lead (set lookups: every row of a million is checked)
_NOT_CUSTOM = frozenset(LEAD_COLUMNS) | frozenset(HISTORY_COLUMNS)
_ADDRESS_COLUMNS = ("street", "postal_code", "city", "state", "country", "latitude", "longitude")
PARTNER_COLUMNS = (
    "external_id",
    "name",
    "active",
    "connection",
    "contact_name",
    "contact_email",
    "contact_phone",
    "languages",
    "countries",
    "postal_prefixes",
    "postal_ranges",
    "radius",
    "latitude",
    "longitude",
    "postal_code",
    "city",
    "country",
    "product_lines",
    "products_in_stock",
    "certifications",
    "tier",
    "employees",
    "revenue_band",
    "industries",
    "segments",
    "max_open",
    "per_day",
    "per_week",
    "per_month",
    "paused_until",
    "home_account_id",
)


@dataclass
class FileReport(Generic[T]):
    """The outcome of validating a file: good rows with their line numbers, and every bad row."""

    path: Path
    valid: list[tuple[int, T]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.valid) + len({e.line for e in self.errors})


def _split(value: str | None) -> list[str]:
    if not value:
        return []
    return [part.strip() for part in value.replace("|", ";").split(";") if part.strip()]


def _bool(value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "y", "ja", "x"}:
        return True
    if lowered in {"0", "false", "no", "n", "nein", ""}:
        return False
    raise ValueError(f"expected yes/no, got {value!r}")


def read_rows(path: Path, encoding: str = "utf-8-sig") -> Iterator[tuple[int, dict[str, str | None]]]:
    """Yield ``(line number, row)`` for every data row; the header is line 1 (streamed)."""
    return CsvStream(path, encoding).rows()


def lead_from_csv(row: dict[str, str | None], connection: str) -> Lead:
    """Build a canonical lead from one CSV row (columns in ``LEAD_COLUMNS``); e-mail is required.

    One validation of the whole lead (its address and consent nested): a row is validated once.
    A bad address is reported as before, by the address's own fields and alone (``LeadRowError``).
    """
    if not row.get("email"):
        raise ValueError("email is required")
    known = _NO_LEAD_COLUMNS | row  # every lead column present, None where the file has none
    custom = {key: row[key] for key in _custom_columns(tuple(row)) if row[key] is not None}
    consent_error: ValueError | None = None
    try:  # checked in the order the parts were once validated in: address, consent, the rest
        consent = {
            "share_with_partners": _bool(known["consent_share"]),
            "marketing": _bool(known["consent_marketing"]),
        }
    except ValueError as error:
        consent_error, consent = error, {}
    try:
        lead = Lead.model_validate(
            {
                "source_connection": connection,
                "external_id": known["external_id"] or known["email"],
                "first_name": known["first_name"],
                "last_name": known["last_name"],
                "email": known["email"],
                "phone": known["phone"],
                "title": known["title"],
                "company": known["company"],
                "website": known["website"],
                "industry": known["industry"],
                "employees": known["employees"],
                "annual_revenue": known["annual_revenue"],
                "address": {key: known[key] for key in _ADDRESS_COLUMNS},
                "product_interests": _split(known["product_interests"]),
                "language": known["language"],
                "score": known["score"],
                "stage": (known["stage"] or "mql").lower(),
                "campaign": known["campaign"],
                "source": known["source"],
                "consent": consent,
                "custom": custom,
            }
        )
    except ValidationError as error:
        raise LeadRowError(_lead_errors(error, consent_error)) from None
    if consent_error is not None:
        raise consent_error
    return lead


class LeadRowError(ValueError):
    """A lead row's validation errors, described as the row reports them."""


def _lead_errors(error: ValidationError, consent_error: ValueError | None) -> str:
    """The errors of a lead validated in one piece, worded as when its address, then its consent,
    then the rest were validated one after the other: a bad address alone, by its own field
    names; else a bad consent cell; else the lead's errors."""
    items = error.errors()
    address = [(item["loc"][1:], item["msg"]) for item in items if item["loc"][:1] == ("address",)]
    if address:
        return _joined(address)
    if consent_error is not None:
        return str(consent_error)
    return _joined([(item["loc"], item["msg"]) for item in items])


def _joined(items: list[tuple[tuple[int | str, ...], str]]) -> str:
    parts = []
    for loc, msg in items:
        where = ".".join(str(p) for p in loc if p != "__root__")
        message = str(msg).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts)


_NO_LEAD_COLUMNS: dict[str, str | None] = dict.fromkeys(LEAD_COLUMNS)


@lru_cache(maxsize=64)
def _custom_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of a header that are custom fields (every row of a file has the same ones)."""
    return tuple(column for column in columns if column not in _NOT_CUSTOM)


@dataclass(frozen=True)
class LeadRecord:
    """One row of a leads file: the lead, and its past when the row describes a closed lead."""

    lead: Lead
    history: History | None = None


def lead_record_from_csv(row: dict[str, str | None], connection: str) -> LeadRecord:
    """A lead row with the optional history columns (``HISTORY_COLUMNS``; ``outcome`` decides)."""
    lead = lead_from_csv(row, connection)
    if not row.get("outcome"):
        extra = [name for name in ("partner", "closed_at", "accepted_at") if row.get(name)]
        if extra:
            raise ValueError(f"{', '.join(extra)} given without an outcome (won or lost)")
        return LeadRecord(lead)
    history = History.model_validate(
        {name: row.get(name) for name in HISTORY_COLUMNS if row.get(name) is not None and name != "outcome"}
        | {"outcome": (row.get("outcome") or "").lower()}
    )
    return LeadRecord(lead.model_copy(update={"created_at": history.started_at}), history)


def _postal_ranges(value: str | None) -> list[PostalRange]:
    ranges = []
    for part in _split(value):
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"postal range {part!r} must look like 80000-81999")
        ranges.append(PostalRange(start=start.strip(), end=end.strip()))
    return ranges


def _radii(value: str | None) -> list[Radius]:
    radii = []
    for part in _split(value):
        pieces = [p.strip() for p in part.split(",")]
        if len(pieces) != 3:
            raise ValueError(f"radius {part!r} must look like 48.14,11.58,50 (lat,lon,km)")
        radii.append(Radius(latitude=float(pieces[0]), longitude=float(pieces[1]), km=float(pieces[2])))
    return radii


def _certifications(value: str | None) -> list[Certification]:
    certs = []
    for part in _split(value):
        name, _, rest = part.partition(":")
        level, _, expires = rest.partition(":")
        certs.append(
            Certification.model_validate(
                {"name": name.strip(), "level": int(level or 1), "expires": expires or None}
            )
        )
    return certs


def partner_from_csv(row: dict[str, str | None]) -> Partner:
    """Build a partner profile from one CSV row (columns in ``PARTNER_COLUMNS``)."""
    if not row.get("name"):
        raise ValueError("name is required")
    contacts = []
    if row.get("contact_email"):
        contacts.append(
            PartnerContact.model_validate(
                {
                    "name": row.get("contact_name"),
                    "email": row["contact_email"],
                    "phone": row.get("contact_phone"),
                    "language": (_split(row.get("languages")) or ["en"])[0],
                }
            )
        )
    return Partner.model_validate(
        {
            "external_id": row.get("external_id") or row["name"],
            "name": row["name"],
            "active": _bool(row.get("active"), default=True),
            "connection": row.get("connection") or "inbox",
            "contacts": contacts,
            "territory": Territory(
                countries=_split(row.get("countries")),
                postal_prefixes=_split(row.get("postal_prefixes")),
                postal_ranges=_postal_ranges(row.get("postal_ranges")),
                radii=_radii(row.get("radius")),
            ),
            "location_latitude": row.get("latitude"),
            "location_longitude": row.get("longitude"),
            "location_postal_code": row.get("postal_code"),
            "location_city": row.get("city"),
            "location_country": row.get("country"),
            "product_lines": _split(row.get("product_lines")),
            "products_in_stock": _split(row.get("products_in_stock")),
            "certifications": _certifications(row.get("certifications")),
            "tier": (row.get("tier") or "registered").lower(),
            "employees": row.get("employees"),
            "revenue_band": row.get("revenue_band"),
            "industries": _split(row.get("industries")),
            "segments": [s.lower() for s in _split(row.get("segments"))],
            "languages": _split(row.get("languages")) or ["en"],
            "capacity": Capacity.model_validate(
                {key: row.get(key) for key in ("max_open", "per_day", "per_week", "per_month")}
            ),
            "availability": {"paused_until": row.get("paused_until")},
            "home_account_id": row.get("home_account_id") or None,
        }
    )


def _describe(error: Exception) -> str:
    if isinstance(error, ValidationError):
        return _joined([(item["loc"], item["msg"]) for item in error.errors()])
    return str(error)


def check_rows(
    rows: Iterable[tuple[int, dict[str, str | None]]],
    build: Callable[[dict[str, str | None]], T],
    key: Callable[[T], str],
    seen: KeyLedger | None,
) -> Iterator[tuple[int, T] | RowError]:
    """Build each row; yield ``(line, model)`` or the row's ``RowError`` (a duplicate key by ``seen``).

    ``seen=None`` skips the duplicate check (a pass over a file already found free of duplicates).
    """
    for line, row in rows:
        try:
            model = build(row)
        except (ValidationError, ValueError, TypeError) as error:
            yield RowError(line, _describe(error))
            continue
        if seen is not None:
            model_key = key(model)
            first = seen.first_line(model_key, line)
            if first is not None:
                yield RowError(line, f"duplicate of line {first} ({model_key})")
                continue
        yield line, model


def validate_file(
    path: Path,
    build: Callable[[dict[str, str | None]], T],
    key: Callable[[T], str],
    encoding: str = "utf-8-sig",
) -> FileReport[T]:
    """Validate every row of ``path`` with ``build`` into one report (small files: it holds every row)."""
    report: FileReport[T] = FileReport(path)
    with KeyLedger() as seen:
        for item in check_rows(read_rows(path, encoding), build, key, seen):
            if isinstance(item, RowError):
                report.errors.append(item)
            else:
                report.valid.append(item)
    return report


def lead_key(lead: Lead) -> str:
    """Two rows of a file are the same lead when their external ids match (case-insensitively)."""
    return (lead.external_id or "").lower()


def partner_key(partner: Partner) -> str:
    return (partner.external_id or "").lower()


def validate_leads(path: Path, connection: str = "csv", encoding: str = "utf-8-sig") -> FileReport[Lead]:
    return validate_file(path, lambda row: lead_from_csv(row, connection), lead_key, encoding)


def validate_partners(path: Path, encoding: str = "utf-8-sig") -> FileReport[Partner]:
    return validate_file(path, partner_from_csv, partner_key, encoding)
