"""The REST API ``/api/v1`` (OpenAPI at ``/openapi.json``).

Admin tools (admin API key): create or import leads through intake, upsert and read partners, read
a lead and its events. Partner systems (partner API key, scoped to its partner through
``CurrentPartner``): list and read offers, accept, decline, and on held leads post status, outcome,
notes, contact attempts, ratings and returns, and read the lead with its history. Input and output
are separate models, so nothing private leaks into responses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.inbox import BlindPreview, PartnerInbox
from leadbridge.connectors.inbox.inputs import (
    ContactInput,
    DeclineInput,
    LoseInput,
    NoteInput,
    RatingInput,
    ReturnInput,
    StatusInput,
    WinInput,
)
from leadbridge.connectors.inbox.views import held_lead_detail, offer_preview, open_offers
from leadbridge.core.errors import ConflictError
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.model import Lead, LeadEvent
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.core.store.keyset import Cursor
from leadbridge.core.store.tables import LeadRow
from leadbridge.sync.bulk_intake import Incoming, Known, take_in_chunk
from leadbridge.sync.lead_updates import merge_known, update_from_model
from leadbridge.web.accounts import PartnerPrincipal
from leadbridge.web.cockpit_queries import LeadFilters
from leadbridge.web.cockpit_queries import leads as lead_page
from leadbridge.web.deps import CurrentAdmin, CurrentPartner, Db, current_admin
from leadbridge.web.edge import EdgeCheckedRoute
from leadbridge.web.errors import API_ERROR_RESPONSES
from leadbridge.web.invites import invite_contacts
from leadbridge.web.privacy import audit_action, audit_list_view, audit_view

# Every route documents the error JSON and refuses NUL / non-finite input at the edge (web/edge.py).
router = APIRouter(prefix="/api/v1", tags=["api"], responses=API_ERROR_RESPONSES)
admin_router = APIRouter(dependencies=[Depends(current_admin)], route_class=EdgeCheckedRoute)


class IntakeOut(BaseModel):
    lead_id: str
    result: str


class LeadOut(BaseModel):
    lead: Lead
    state: str
    partner_id: str | None


class LeadSummary(BaseModel):
    id: str
    external_id: str | None
    source: str
    state: str
    partner_id: str | None
    email: str | None
    company: str | None
    country: str | None
    postal_code: str | None
    campaign: str | None
    updated_at: datetime


class LeadPage(BaseModel):
    """One page of leads; pass ``next`` as ``after`` for the next page (``null``: the last page)."""

    items: list[LeadSummary]
    next: str | None


class HeldLeadOut(BaseModel):
    lead: Lead
    state: str
    offer_id: str | None
    events: list[LeadEvent]


class EventOut(BaseModel):
    event_id: str
    lead_id: str
    kind: str
    to_state: str
    occurred_at: datetime

    @classmethod
    def of(cls, event: LeadEvent) -> EventOut:
        return cls(
            event_id=event.id,
            lead_id=event.lead_id,
            kind=event.kind,
            to_state=event.to_state,
            occurred_at=event.occurred_at,
        )


class OutcomeInput(BaseModel):
    """Won (with an amount) or lost (with a reason code)."""

    result: Literal["won", "lost"]
    amount: Decimal | None = Field(default=None, ge=0)
    currency: str = "EUR"
    close_date: date | None = None
    reason_code: str | None = None
    comment: str | None = None


BULK_CHUNK = 1000  # leads per bulk-intake call inside the one transaction


# -- admin tools -------------------------------------------------------------------------------
def _api_lead(lead: Lead) -> Lead:
    return (
        lead.model_copy(update={"source_connection": "api"}) if lead.source_connection == "manual" else lead
    )


def _refuse_taken_ids(session: Session, leads: list[Lead]) -> None:
    """An ``id`` that another lead already has is a conflict (409), told before any insert: ids are
    ours to give, a caller may only repeat a lead's own (same source and external id)."""
    wanted = {lead.id: (lead.source_connection, lead.external_id) for lead in leads}
    rows = session.execute(
        select(LeadRow.id, LeadRow.source_connection, LeadRow.external_id).where(LeadRow.id.in_(wanted))
    ).all()
    for lead_id, connection, external_id in rows:
        if wanted[lead_id] != (connection, external_id):
            raise ConflictError(f"lead id {lead_id} belongs to another lead; leave id out to get a new one")


@admin_router.post("/leads", status_code=201, response_model=IntakeOut)
def create_lead(lead: Lead, db: Db, admin: CurrentAdmin) -> IntakeOut:
    """Take one lead in (idempotent per source version); it needs an ``external_id``."""
    lead = _api_lead(lead)
    with db.transaction() as session:
        _refuse_taken_ids(session, [lead])
        result = take_in(session, lead, actor=admin.actor)
    return IntakeOut(lead_id=result.lead_id, result=result.result.value)


@admin_router.post("/leads/import", response_model=list[IntakeOut])
def import_leads(leads: list[Lead], db: Db, admin: CurrentAdmin) -> list[IntakeOut]:
    """Take many leads in one transaction, all or nothing, through bulk intake (new leads in
    multi-row inserts, known versions skipped with one query per chunk); a known lead is updated
    with the fields each body sets, the rest stay as stored; results in input order."""
    missing = [index for index, lead in enumerate(leads) if not lead.external_id]
    if missing:
        raise HTTPException(422, f"leads at positions {missing[:20]} have no external_id")
    leads = [_api_lead(lead) for lead in leads]
    updates = [update_from_model(Incoming(lead)) for lead in leads]
    results = []
    with db.transaction() as session:
        for start in range(0, len(leads), BULK_CHUNK):
            _refuse_taken_ids(session, leads[start : start + BULK_CHUNK])
        for start in range(0, len(updates), BULK_CHUNK):
            known: dict[str, Known] = {}  # a known lead is updated partially (sync/lead_updates.py)
            items = merge_known(session, updates[start : start + BULK_CHUNK], known)
            results += take_in_chunk(session, items, actor=admin.actor, known=known)
    return [IntakeOut(lead_id=r.lead_id, result=r.result.value) for r in results]


@admin_router.get("/leads", response_model=LeadPage)
def list_leads(
    db: Db,
    admin: CurrentAdmin,
    state: str | None = None,
    partner: str | None = None,
    campaign: str | None = None,
    region: Annotated[str | None, Query(description="country, or country-postal prefix: DE-80")] = None,
    after: Annotated[str | None, Query(description="the previous page's next")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> LeadPage:
    """Leads most recently changed first, paged by keyset (page 10,000 costs what page 1 costs)."""
    try:
        cursor = Cursor.decode(after) if after else None
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    regions = admin.scope.regions if admin.scope.regional else ()  # a channel manager's leads only
    filters = LeadFilters(state=state, partner_id=partner, campaign=campaign, region=region, regions=regions)
    with db.transaction() as session:
        rows, following = lead_page(session, filters, after=cursor, limit=limit)
        items = [
            LeadSummary(
                id=r.id,
                external_id=r.external_id,
                source=r.source_connection,
                state=r.state,
                partner_id=r.partner_id,
                email=r.email,
                company=r.company,
                country=r.country,
                postal_code=r.postal_code,
                campaign=r.campaign,
                updated_at=r.updated_at,
            )
            for r in rows
        ]
        shown = [(r.id, r.state) for r in rows]
        audit_list_view(session, actor=admin.actor, channel="api", shown=shown, via="api:leads")
    return LeadPage(items=items, next=following.encode() if following else None)


@admin_router.get("/leads/{lead_id}", response_model=LeadOut)
def get_lead(lead_id: str, db: Db, admin: CurrentAdmin) -> LeadOut:
    with db.transaction() as session:
        row = LeadService(session).get_row(lead_id)
        audit_view(session, actor=admin.actor, channel="api", lead_id=lead_id)
        return LeadOut(lead=lead_from_row(row), state=row.state, partner_id=row.partner_id)


@admin_router.get("/leads/{lead_id}/events", response_model=list[LeadEvent])
def lead_events(lead_id: str, db: Db) -> list[LeadEvent]:
    with db.transaction() as session:
        service = LeadService(session)
        service.get_row(lead_id)
        return service.events(lead_id)


@admin_router.get("/partners", response_model=list[Partner])
def list_partners(db: Db, admin: CurrentAdmin) -> list[Partner]:
    with db.transaction() as session:
        return [p for p in PartnerRepository(session).all() if admin.scope.covers_partner(p)]


@admin_router.put("/partners", response_model=Partner)
def upsert_partner(request: Request, partner: Partner, db: Db, admin: CurrentAdmin) -> Partner:
    """Create or update a partner by ``external_id`` (or ``id``); on the inbox, each new contact
    e-mail becomes an inbox user, invited by mail (``web/invites.py``)."""
    with db.transaction() as session:
        stored, _ = PartnerRepository(session).upsert(partner)
        audit_action(
            session, actor=admin.actor, channel="api", action="save_partner", detail={"partner_id": stored.id}
        )
    if stored.connection == "inbox":
        state = request.app.state
        invite_contacts(db, state.settings, state.mailer, partner_ids=[stored.id])
    return stored


@admin_router.get("/partners/{partner_id}", response_model=Partner)
def get_partner(partner_id: str, db: Db) -> Partner:
    with db.transaction() as session:
        return PartnerRepository(session).get(partner_id)


# -- partner systems ---------------------------------------------------------------------------
partner_router = APIRouter(prefix="/partner", route_class=EdgeCheckedRoute)


@partner_router.get("/offers", response_model=list[BlindPreview])
def partner_offers(partner: CurrentPartner, db: Db) -> list[BlindPreview]:
    """The partner's pending offers as blind previews."""
    with db.transaction() as session:
        return open_offers(session, partner.partner_id)


@partner_router.get("/offers/{offer_id}", response_model=BlindPreview)
def partner_offer(offer_id: str, partner: CurrentPartner, db: Db) -> BlindPreview:
    with db.transaction() as session:
        return offer_preview(session, offer_id, partner.partner_id, partner.actor)


@partner_router.post("/offers/{offer_id}/accept", response_model=EventOut)
def partner_accept(request: Request, offer_id: str, partner: CurrentPartner, db: Db) -> EventOut:
    """Accept (or claim, under the pool's rules) the offer; repeating it answers with the same event."""
    policy = request.app.state.policy
    with db.transaction() as session:
        inbox = PartnerInbox(session, partner.partner_id, partner.actor)
        return EventOut.of(inbox.accept(offer_id, policy=policy))


@partner_router.post("/offers/{offer_id}/decline", response_model=EventOut)
def partner_decline(offer_id: str, data: DeclineInput, partner: CurrentPartner, db: Db) -> EventOut:
    with db.transaction() as session:
        return EventOut.of(PartnerInbox(session, partner.partner_id, partner.actor).decline(offer_id, data))


@partner_router.get("/leads/{lead_id}", response_model=HeldLeadOut)
def partner_lead(lead_id: str, partner: CurrentPartner, db: Db) -> HeldLeadOut:
    """A lead the partner holds, in full, with the history it may see."""
    with db.transaction() as session:
        detail = held_lead_detail(session, lead_id, partner.partner_id, partner.actor)
        audit_view(session, actor=partner.actor, channel="api", lead_id=lead_id)
    return HeldLeadOut(lead=detail.lead, state=detail.state, offer_id=detail.offer_id, events=detail.events)


def _act(
    db: Database,
    partner: PartnerPrincipal,
    perform: Callable[[PartnerInbox, str, Any, str | None], LeadEvent],
    lead_id: str,
    data: BaseModel,
    request_id: str | None,
) -> EventOut:
    """Run one partner action on a held lead in one transaction."""
    with db.transaction() as session:
        inbox = PartnerInbox(session, partner.partner_id, partner.actor)
        return EventOut.of(perform(inbox, lead_id, data, request_id))


@partner_router.post("/leads/{lead_id}/status", response_model=EventOut)
def partner_status(
    lead_id: str, data: StatusInput, partner: CurrentPartner, db: Db, request_id: str | None = None
) -> EventOut:
    """Contacted / meeting / proposal, with expected revenue, close date and next follow-up."""
    return _act(db, partner, PartnerInbox.update_status, lead_id, data, request_id)


@partner_router.post("/leads/{lead_id}/outcome", response_model=EventOut)
def partner_outcome(
    lead_id: str, data: OutcomeInput, partner: CurrentPartner, db: Db, request_id: str | None = None
) -> EventOut:
    if data.result == "won":
        won = WinInput(amount=data.amount or Decimal(0), currency=data.currency, close_date=data.close_date)
        return _act(db, partner, PartnerInbox.win, lead_id, won, request_id)
    lost = LoseInput(reason_code=data.reason_code or "", comment=data.comment)
    return _act(db, partner, PartnerInbox.lose, lead_id, lost, request_id)


@partner_router.post("/leads/{lead_id}/notes", response_model=EventOut)
def partner_note(
    lead_id: str, data: NoteInput, partner: CurrentPartner, db: Db, request_id: str | None = None
) -> EventOut:
    return _act(db, partner, PartnerInbox.add_note, lead_id, data, request_id)


@partner_router.post("/leads/{lead_id}/contacts", response_model=EventOut)
def partner_contact(
    lead_id: str, data: ContactInput, partner: CurrentPartner, db: Db, request_id: str | None = None
) -> EventOut:
    return _act(db, partner, PartnerInbox.log_contact, lead_id, data, request_id)


@partner_router.post("/leads/{lead_id}/rating", response_model=EventOut)
def partner_rating(
    lead_id: str, data: RatingInput, partner: CurrentPartner, db: Db, request_id: str | None = None
) -> EventOut:
    return _act(db, partner, PartnerInbox.rate, lead_id, data, request_id)


@partner_router.post("/leads/{lead_id}/return", response_model=EventOut)
def partner_return(
    lead_id: str, data: ReturnInput, partner: CurrentPartner, db: Db, request_id: str | None = None
) -> EventOut:
    return _act(db, partner, PartnerInbox.return_lead, lead_id, data, request_id)


router.include_router(admin_router)
router.include_router(partner_router)
