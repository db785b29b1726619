"""The partner REST API for the pull side (``/api/v1/partner``): the pool and the leads a partner holds.

- ``GET /pool``: the partner's pool as blind items, with its limits (read-only at a limit);
- ``POST /pool/{lead_id}/claim``: cherry pick, first claim wins (409 for the others); the answer
  reveals the lead to the winner only;
- ``POST /pool/pull``: blind pull, the best lead for the partner claimed and revealed at once
  (404 with the reason when the pool is empty);
- ``GET /leads``: the leads the partner holds, oldest change first, paged by keyset (``after`` =
  the previous page's ``next``) and filtered by ``updated_since`` — so a partner system can sync
  what it holds.
Every route is scoped by ``CurrentPartner``; the rules are ``core/pool.py``'s. A lead shown with its
identity (a claim's answer, the held leads) is shown as far as its consent still allows the partner
(``core/privacy/shares.py``) and the view is in the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.leads import lead_from_row
from leadbridge.core.model import Lead, LeadEvent
from leadbridge.core.policy import Policy, PoolClaim
from leadbridge.core.pool import PartnerPool, PoolItem, PoolLimits
from leadbridge.core.privacy.shares import lead_for_partner, partner_facts
from leadbridge.core.store.database import Database
from leadbridge.core.store.keyset import Cursor, keyset, split
from leadbridge.core.store.tables import LeadRow
from leadbridge.web.accounts import PartnerPrincipal
from leadbridge.web.deps import CurrentPartner, Db
from leadbridge.web.edge import EdgeCheckedRoute
from leadbridge.web.errors import API_ERROR_RESPONSES
from leadbridge.web.privacy import audit_list_view, audit_view

router = APIRouter(
    prefix="/api/v1/partner", tags=["api"], route_class=EdgeCheckedRoute, responses=API_ERROR_RESPONSES
)
MAX_PAGE = 200
MAX_POOL = 500


class PoolOut(BaseModel):
    items: list[PoolItem]
    limits: PoolLimits
    claim: PoolClaim


class ClaimedOut(BaseModel):
    """The claimed lead, in full: only its winner ever gets this."""

    lead: Lead
    state: str
    offer_id: str | None
    event_id: str


class HeldItem(BaseModel):
    lead_id: str
    state: str
    updated_at: datetime
    lead: Lead


class HeldPage(BaseModel):
    items: list[HeldItem]
    next: str | None


def policy_of(request: Request) -> Policy:
    """The routing policy the app was started with."""
    policy: Policy = request.app.state.policy
    return policy


def _pool(session: Session, partner: PartnerPrincipal, request: Request, source: str) -> PartnerPool:
    return PartnerPool(session, partner.partner_id, partner.actor, policy_of(request), source_system=source)


@router.get("/pool", response_model=PoolOut)
def pool(
    request: Request, partner: CurrentPartner, db: Db, limit: Annotated[int, Query(ge=1, le=MAX_POOL)] = 100
) -> PoolOut:
    """The partner's pool: the best ``limit`` blind previews (fit, then oldest) and its limits."""
    with db.transaction() as session:
        pool = _pool(session, partner, request, "api")
        items = pool.items(limit)
        return PoolOut(items=items, limits=pool.limits(), claim=pool.policy.distribution.pool.claim)


def _claimed(db: Database, partner: PartnerPrincipal, lead_id: str, event: LeadEvent) -> ClaimedOut:
    """The claimed lead as its consent lets the partner see it; the view is audited."""
    with db.transaction() as session:
        row = session.get(LeadRow, lead_id)
        assert row is not None  # just claimed
        facts = partner_facts(session, [partner.partner_id]).get(partner.partner_id)
        audit_view(session, actor=partner.actor, channel="api", lead_id=lead_id)
        lead = lead_for_partner(lead_from_row(row), facts)
        return ClaimedOut(lead=lead, state=row.state, offer_id=event.offer_id, event_id=event.id)


@router.post("/pool/{lead_id}/claim", response_model=ClaimedOut)
def claim(lead_id: str, request: Request, partner: CurrentPartner, db: Db) -> ClaimedOut:
    """Cherry pick: the first claim wins; the others get 409."""
    with db.transaction() as session:
        event = _pool(session, partner, request, "api").claim(lead_id)
    return _claimed(db, partner, lead_id, event)


@router.post("/pool/pull", response_model=ClaimedOut)
def pull(request: Request, partner: CurrentPartner, db: Db) -> ClaimedOut:
    """Blind pull: "give me my next lead" — claimed and revealed in one step."""
    with db.transaction() as session:
        event = _pool(session, partner, request, "api").pull()
    return _claimed(db, partner, event.lead_id, event)


@router.get("/leads", response_model=HeldPage)
def held(
    partner: CurrentPartner,
    db: Db,
    updated_since: datetime | None = None,
    after: Annotated[str | None, Query(description="the previous page's next")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> HeldPage:
    """The leads the partner holds, oldest change first, paged by keyset on (change time, id)."""
    try:
        cursor = Cursor.decode(after) if after else None
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    query = select(LeadRow).where(LeadRow.partner_id == partner.partner_id)
    if updated_since is not None:
        since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
        query = query.where(LeadRow.updated_at >= since)
    query = keyset(query, LeadRow.updated_at, LeadRow.id, after=cursor, limit=limit, descending=False)
    with db.transaction() as session:
        rows, following = split(list(session.execute(query).scalars()), limit, "updated_at")
        # consent may have narrowed since the claim: the identity only as far as it still allows
        facts = partner_facts(session, [partner.partner_id]).get(partner.partner_id)
        items = [
            HeldItem(
                lead_id=r.id,
                state=r.state,
                updated_at=r.updated_at,
                lead=lead_for_partner(lead_from_row(r), facts),
            )
            for r in rows
        ]
        shown = [(r.id, r.state) for r in rows]
        audit_list_view(session, actor=partner.actor, channel="api", shown=shown, via="api:partner_leads")
    return HeldPage(items=items, next=following.encode() if following else None)
