"""The manufacturer's cockpit (admins): overview charts, leads, one lead's timeline, partners,
SLA breaches, dead letters, and the manual re-route / assignment / retry actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from leadbridge.core.dedup import MERGEABLE, possible_duplicates
from leadbridge.core.errors import NotFound
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.policy import Policy
from leadbridge.core.store.keyset import Cursor
from leadbridge.web import cockpit_actions as actions
from leadbridge.web import cockpit_queries as queries
from leadbridge.web.charts import bar_chart
from leadbridge.web.deps import CsrfChecked, CurrentAdmin, Db, Page
from leadbridge.web.privacy import audit_action, audit_list_view, audit_view

router = APIRouter(prefix="/cockpit", include_in_schema=False)


def _first_contact(request: Request) -> timedelta:
    policy: Policy = request.app.state.policy
    return timedelta(hours=policy.sla.first_contact_hours)


def _breaches(request: Request, session: Session) -> list[queries.Breach]:
    """Acceptance breaches, missed first contacts and stalls under the app's policy."""
    policy: Policy = request.app.state.policy
    stall = timedelta(days=policy.sla.stall_days)
    return queries.sla_breaches(session, first_contact=_first_contact(request), stall=stall)


@router.get("")
def overview(request: Request, admin: CurrentAdmin, db: Db) -> Response:
    with db.transaction() as session:
        funnel = queries.funnel(session)
        waits = queries.time_to_accept(session)
        breaches = len(_breaches(request, session))
        dead = len(queries.dead_letters(session))
    context = {
        "admin": admin,
        "funnel": bar_chart("Funnel (leads)", funnel),
        "waits": bar_chart("Time to accept (offers)", waits),
        "breaches": breaches,
        "dead": dead,
    }
    return Page(request).render("cockpit/overview.html", context)


@router.get("/leads")
def leads(
    request: Request,
    admin: CurrentAdmin,
    db: Db,
    state: Annotated[str | None, Query()] = None,
    partner: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    campaign: Annotated[str | None, Query()] = None,
    sla: Annotated[bool, Query()] = False,
    after: Annotated[str | None, Query(description="page cursor from the previous page")] = None,
) -> Response:
    filters = queries.LeadFilters(
        state=state or None,
        partner_id=partner or None,
        region=region or None,
        campaign=campaign or None,
        sla_breached=sla,
        first_contact=_first_contact(request),
        regions=admin.scope.regions if admin.scope.regional else (),
    )
    with db.transaction() as session:
        found, cursor = queries.leads(session, filters, after=_cursor(after))
        rows = [(row, queries.lead_label(row)) for row in found]
        partners = queries.partner_choices(session)
        shown = [(row.id, row.state) for row in found]
        audit_list_view(session, actor=admin.actor, channel="cockpit", shown=shown, via="cockpit:leads")
    query = {k: v for k, v in request.query_params.items() if k != "after" and v}
    context = {
        "admin": admin,
        "rows": rows,
        "filters": filters,
        "partners": partners,
        "states": [s.value for s in LeadState],
        "next_page": urlencode({**query, "after": cursor.encode()}) if cursor else None,
    }
    return Page(request).render("cockpit/leads.html", context)


@router.get("/leads/{lead_id}")
def lead(request: Request, lead_id: str, admin: CurrentAdmin, db: Db, done: str | None = None) -> Response:
    with db.transaction() as session:
        timeline = queries.timeline(session, lead_id)
        label = queries.lead_label(timeline.row)
        audit_view(session, actor=admin.actor, channel="cockpit", lead_id=lead_id)
        partners = queries.partner_choices(session)
        mergeable = timeline.row.state in MERGEABLE
        twins = possible_duplicates(session, timeline.row) if mergeable else []
    context = {
        "admin": admin,
        "tl": timeline,
        "label": label,
        "partners": partners,
        "notice": done,
        "twins": twins,
    }
    return Page(request).render("cockpit/lead.html", context)


@router.post("/leads/{lead_id}/reroute", dependencies=[CsrfChecked])
def reroute(lead_id: str, admin: CurrentAdmin, db: Db) -> Response:
    with db.transaction() as session:
        actions.reroute(session, lead_id, admin.actor)
        audit_action(session, actor=admin.actor, channel="cockpit", action="reroute", lead_id=lead_id)
    return RedirectResponse(f"/cockpit/leads/{lead_id}?done=rerouted", status_code=303)


@router.post("/leads/{lead_id}/assign", dependencies=[CsrfChecked])
def assign(lead_id: str, admin: CurrentAdmin, db: Db, partner_id: Annotated[str, Form()]) -> Response:
    with db.transaction() as session:
        if not admin.scope.covers_partner(PartnerRepository(session).get(partner_id)):
            raise NotFound(f"partner {partner_id} does not exist")  # outside a channel manager's regions
        actions.assign(session, lead_id, partner_id, admin.actor)
        audit_action(
            session, actor=admin.actor, channel="cockpit", action="assign", lead_id=lead_id,
            detail={"partner_id": partner_id},
        )  # fmt: skip
    return RedirectResponse(f"/cockpit/leads/{lead_id}?done=assigned", status_code=303)


@router.get("/partners")
def partners(request: Request, admin: CurrentAdmin, db: Db, after: str | None = None) -> Response:
    with db.transaction() as session:
        stats, cursor = queries.partner_stats(session, after=_cursor(after))
        if admin.scope.regional:  # a channel manager sees the partners of its regions only
            partners = queries.partners_by_id(session, [s.partner_id for s in stats])
            stats = [s for s in stats if admin.scope.covers_partner(partners[s.partner_id])]
    next_page = urlencode({"after": cursor.encode()}) if cursor else None
    return Page(request).render(
        "cockpit/partners.html", {"admin": admin, "stats": stats, "next_page": next_page}
    )


def _cursor(token: str | None) -> Cursor | None:
    """A page cursor from the query string; a malformed one is a 400, not a server error."""
    if not token:
        return None
    try:
        return Cursor.decode(token)
    except ValueError as error:
        raise HTTPException(400, str(error)) from None


@router.get("/sla")
def sla(request: Request, admin: CurrentAdmin, db: Db) -> Response:
    with db.transaction() as session:
        breaches = _breaches(request, session)
    return Page(request).render("cockpit/sla.html", {"admin": admin, "breaches": breaches})


@router.get("/outbox")
def outbox(request: Request, admin: CurrentAdmin, db: Db, done: str | None = None) -> Response:
    with db.transaction() as session:
        dead = queries.dead_letters(session)
    return Page(request).render("cockpit/outbox.html", {"admin": admin, "dead": dead, "notice": done})


@router.post("/outbox/retry", dependencies=[CsrfChecked])
def retry(admin: CurrentAdmin, db: Db, ids: Annotated[list[int], Form()]) -> Response:
    with db.transaction() as session:
        count = actions.retry_dead(session, ids)
        detail = {"rows": len(ids), "retried": count}
        audit_action(session, actor=admin.actor, channel="cockpit", action="retry_dead", detail=detail)
    return RedirectResponse(f"/cockpit/outbox?done={count}", status_code=303)
