"""Campaign costs in the cockpit: enter one, import a CSV, remove a wrong one — what the campaign ROI
report divides by.

- ``GET /cockpit/costs``: the form, the import and the latest costs;
- ``POST /cockpit/costs``: one cost; a bad field re-shows the form with the error and every value
  typed kept (status 400), nothing is saved;
- ``POST /cockpit/costs/import``: a CSV (``campaign,date,amount[,currency][,note]``); any bad row
  imports nothing and every bad line is listed; rows stored already are skipped;
- ``POST /cockpit/costs/{id}/delete``: remove one.
The rules of a cost live in ``core/reports/costs.py``; these routes only carry them.
"""

from __future__ import annotations

import io
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.requests import Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from leadbridge.core.errors import ConfigError
from leadbridge.core.reports.costs import (
    add_cost,
    cost_from_fields,
    parse_costs_text,
    recent_costs,
    remove_cost,
)
from leadbridge.web.deps import CsrfChecked, CurrentAdmin, Db, Page

router = APIRouter(prefix="/cockpit", include_in_schema=False)
MAX_UPLOAD = 2 * 1024 * 1024  # a year of daily costs for hundreds of campaigns is far less

FIELDS = ("campaign", "date", "amount", "currency", "note")


def _page(
    request: Request, admin: Any, db: Any, *, form: dict[str, str] | None = None, error: str | None = None,
    notice: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    with db.transaction() as session:
        costs = [
            {"id": c.id, "campaign": c.campaign, "day": c.spent_on.isoformat(), "amount": str(c.amount),
             "currency": c.currency, "note": c.note or ""}
            for c in recent_costs(session)
        ]  # fmt: skip
    context = {
        "admin": admin,
        "costs": costs,
        "form": form or {"currency": "EUR"},
        "error": error,
        "notice": notice,
    }
    return Page(request).render("cockpit/costs.html", context, status_code=status_code)


@router.get("/costs")
def costs_page(
    request: Request, admin: CurrentAdmin, db: Db, done: str | None = None, added: int = 0, skipped: int = 0
) -> Response:
    notices = {
        "added": "Cost saved.",
        "same": "An equal cost (campaign, day, amount, currency) is stored already: nothing added.",
        "removed": "Cost removed.",
    }
    notices["imported"] = f"Imported {added} cost(s); {skipped} stored already."
    notice = notices.get(done or "")
    return _page(request, admin, db, notice=notice)


@router.post("/costs", dependencies=[CsrfChecked])
def add_cost_form(
    request: Request,
    admin: CurrentAdmin,
    db: Db,
    campaign: Annotated[str, Form()] = "",
    date: Annotated[str, Form()] = "",
    amount: Annotated[str, Form()] = "",
    currency: Annotated[str, Form()] = "EUR",
    note: Annotated[str, Form()] = "",
) -> Response:
    form = {"campaign": campaign, "date": date, "amount": amount, "currency": currency, "note": note}
    try:
        cost = cost_from_fields(form)
    except ValueError as error:
        return _page(request, admin, db, form=form, error=str(error), status_code=400)
    with db.transaction() as session:
        added = add_cost(session, cost)
    return RedirectResponse(f"/cockpit/costs?done={'added' if added else 'same'}", status_code=303)


@router.post("/costs/import", dependencies=[CsrfChecked])
async def import_costs_form(
    request: Request, admin: CurrentAdmin, db: Db, file: Annotated[UploadFile, File()]
) -> Response:
    data = await file.read(MAX_UPLOAD + 1)
    name = file.filename or "upload.csv"
    if len(data) > MAX_UPLOAD:
        return _page(request, admin, db, error=f"{name} is larger than 2 MB", status_code=400)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return _page(request, admin, db, error=f"{name} is not UTF-8 text", status_code=400)
    try:
        costs = parse_costs_text(io.StringIO(text, newline=""), name)
    except ConfigError as error:
        return _page(request, admin, db, error=str(error), status_code=400)
    added = 0
    with db.transaction() as session:
        for cost in costs:
            if add_cost(session, cost):
                added += 1
                session.flush()  # a row repeated within the file is found as stored
    query = urlencode({"done": "imported", "added": added, "skipped": len(costs) - added})
    return RedirectResponse(f"/cockpit/costs?{query}", status_code=303)


@router.post("/costs/{cost_id}/delete", dependencies=[CsrfChecked])
def delete_cost(admin: CurrentAdmin, db: Db, cost_id: int) -> Response:
    with db.transaction() as session:
        remove_cost(session, cost_id)
    return RedirectResponse("/cockpit/costs?done=removed", status_code=303)


ROUTERS = (router,)
