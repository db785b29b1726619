"""Partner self-service in the inbox: pause or set holidays, say how much the company can take,
and see (and write to) the other users of the own company.

- ``GET /inbox/availability``: the form (paused until, holidays, capacity) and the company's users;
- ``POST /inbox/availability``: saves; a bad value re-shows the form with what is wrong and every
  value typed kept (status 400), nothing saved;
- ``POST /inbox/availability/resume``: take leads again at once (clears the pause).
Rules: "paused until" is a day — from its start (UTC) the partner gets offers again; holidays are
days without offers (``Partner.is_paused``); capacity figures are whole numbers ≥ 0 or empty (no
limit). Only the signed-in partner's own record is read or written (``CurrentPartner``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.responses import Response

from leadbridge.core.partner import Capacity, Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.web_tables import PartnerUserRow
from leadbridge.web.deps import CsrfChecked, CurrentPartner, Db, Page
from leadbridge.web.inbox import FormData

router = APIRouter(prefix="/inbox", include_in_schema=False)
CAPACITY = ("max_open", "per_day", "per_week", "per_month")


def _form_of(partner: Partner) -> dict[str, str]:
    paused = partner.availability.paused_until
    capacity = partner.capacity.model_dump()
    return {
        "paused_until": paused.date().isoformat() if paused else "",
        "holidays": "\n".join(d.isoformat() for d in partner.availability.holidays),
        **{k: "" if capacity[k] is None else str(capacity[k]) for k in CAPACITY},
    }


def parse_availability(form: dict[str, str], partner: Partner) -> Partner:
    """The partner with the form's pause, holidays and capacity; ``ValueError`` says what is wrong."""
    raw = form.get("paused_until", "").strip()
    try:
        paused = datetime.combine(date.fromisoformat(raw), time(), tzinfo=UTC) if raw else None
    except ValueError:
        raise ValueError(f"paused until: {raw!r} is not a date (YYYY-MM-DD)") from None
    holidays: list[date] = []
    for token in form.get("holidays", "").replace(",", "\n").split():
        try:
            holidays.append(date.fromisoformat(token))
        except ValueError:
            raise ValueError(f"holidays: {token!r} is not a date (YYYY-MM-DD)") from None
    figures: dict[str, int | None] = {}
    for key in CAPACITY:
        value = form.get(key, "").strip()
        if value and not (value.isdigit() and len(value) <= 6):
            raise ValueError(f"{key.replace('_', ' ')}: {value!r} is not a whole number from 0 to 999999")
        figures[key] = int(value) if value else None
    try:
        capacity = Capacity(**figures)
    except ValidationError as error:
        raise ValueError(str(error.errors()[0]["msg"])) from None
    availability = partner.availability.model_copy(
        update={"paused_until": paused, "holidays": sorted(set(holidays))}
    )
    return partner.model_copy(update={"availability": availability, "capacity": capacity})


def _page(
    request: Request, partner: Any, db: Any, form: dict[str, str] | None = None, **extra: Any
) -> Response:
    with db.transaction() as session:
        stored = PartnerRepository(session).get(partner.partner_id)
        users = session.execute(
            select(PartnerUserRow)
            .where(PartnerUserRow.partner_id == partner.partner_id, PartnerUserRow.revoked_at.is_(None))
            .order_by(PartnerUserRow.email)
        ).scalars()
        team = [
            {
                "name": u.name or u.email,
                "email": u.email,
                "mailto": f"mailto:{quote(u.email, safe='@')}",
                "me": u.id == partner.user_id,
            }
            for u in users
        ]
    context = {
        "partner": partner,
        "form": form or _form_of(stored),
        "paused": stored.is_paused(datetime.now(UTC)),
        "team": team,
        "error": extra.get("error"),
        "done": extra.get("done"),
    }
    status = 400 if extra.get("error") else 200
    return Page(request).render(
        "inbox/availability.html", context, language=partner.language, status_code=status
    )


@router.get("/availability")
def availability_page(request: Request, partner: CurrentPartner, db: Db, done: str | None = None) -> Response:
    return _page(request, partner, db, done=done)


@router.post("/availability", dependencies=[CsrfChecked])
def save_availability(request: Request, partner: CurrentPartner, db: Db, form: FormData) -> Response:
    error: str | None = None
    with db.transaction() as session:
        repository = PartnerRepository(session)
        try:
            repository.upsert(parse_availability(form, repository.get(partner.partner_id)))
        except ValueError as bad:
            error = str(bad)  # nothing was written: the page is shown again after the transaction
    if error is not None:
        typed = {k: form.get(k, "") for k in ("paused_until", "holidays", *CAPACITY)}
        return _page(request, partner, db, typed, error=error)
    return RedirectResponse("/inbox/availability?done=saved", status_code=303)


@router.post("/availability/resume", dependencies=[CsrfChecked])
def resume(partner: CurrentPartner, db: Db) -> Response:
    with db.transaction() as session:
        repository = PartnerRepository(session)
        stored = repository.get(partner.partner_id)
        availability = stored.availability.model_copy(update={"paused_until": None})
        repository.upsert(stored.model_copy(update={"availability": availability}))
    return RedirectResponse("/inbox/availability?done=resumed", status_code=303)


ROUTERS = (router,)
