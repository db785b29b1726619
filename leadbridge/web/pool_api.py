"""The partner REST API for the pull side (``/api/v1/partner``): the pool and the leads a partner holds.

- ``GET /pool``: the partner's pool as blind items, with its limits (read-only at a limit);
- ``POST /pool/{lead_id}/claim``: cherry pick, first claim wins (409 for the others); the answer
  reveals the lead to the winner only;
- ``POST /pool/pull``: blind pull, the best lead for the partner claimed and revealed at once
  (404 with the reason when the pool is empty);
- ``GET /leads``: the leads the partner holds, most recently changed last, paged by an opaque
  ``cursor`` and filtered by ``updated_since`` — so a partner system can sync what it holds.
Every route is scoped by ``CurrentPartner``; the rules are ``core/pool.py``'s.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.leads import lead_from_row
from leadbridge.core.model import Lead, LeadEvent
from leadbridge.core.policy import Policy, PoolClaim
from leadbridge.core.pool import PartnerPool, PoolItem, PoolLimits
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.web.accounts import PartnerPrincipal
from leadbridge.web.deps import CurrentPartner, Db

router = APIRouter(prefix="/api/v1/partner", tags=["api"])
MAX_PAGE = 200


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
    next_cursor: str | None


def policy_of(request: Request) -> Policy:
    """The routing policy the app was started with."""
    policy: Policy = request.app.state.policy
    return policy


def _pool(session: Session, partner: PartnerPrincipal, request: Request, source: str) -> PartnerPool:
    return PartnerPool(session, partner.partner_id, partner.actor, policy_of(request), source_system=source)


@router.get("/pool", response_model=PoolOut)
def pool(request: Request, partner: CurrentPartner, db: Db) -> PoolOut:
    """The partner's pool: blind previews, best fit first, and where it stands against its limits."""
    with db.transaction() as session:
        pool = _pool(session, partner, request, "api")
        return PoolOut(items=pool.items(), limits=pool.limits(), claim=pool.policy.distribution.pool.claim)


def _claimed(db: Database, lead_id: str, event: LeadEvent) -> ClaimedOut:
    with db.transaction() as session:
        row = session.get(LeadRow, lead_id)
        assert row is not None  # just claimed
        return ClaimedOut(
            lead=lead_from_row(row), state=row.state, offer_id=event.offer_id, event_id=event.id
        )


@router.post("/pool/{lead_id}/claim", response_model=ClaimedOut)
def claim(lead_id: str, request: Request, partner: CurrentPartner, db: Db) -> ClaimedOut:
    """Cherry pick: the first claim wins; the others get 409."""
    with db.transaction() as session:
        event = _pool(session, partner, request, "api").claim(lead_id)
    return _claimed(db, lead_id, event)


@router.post("/pool/pull", response_model=ClaimedOut)
def pull(request: Request, partner: CurrentPartner, db: Db) -> ClaimedOut:
    """Blind pull: "give me my next lead" — claimed and revealed in one step."""
    with db.transaction() as session:
        event = _pool(session, partner, request, "api").pull()
    return _claimed(db, event.lead_id, event)


def _cursor(row: LeadRow) -> str:
    return base64.urlsafe_b64encode(f"{row.updated_at.isoformat()}|{row.id}".encode()).decode()


def _after(cursor: str) -> tuple[datetime, str]:
    try:
        stamp, lead_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(stamp), lead_id
    except (ValueError, UnicodeDecodeError):
        raise ValueError("cursor is not one this API handed out; start again without it") from None


@router.get("/leads", response_model=HeldPage)
def held(
    partner: CurrentPartner,
    db: Db,
    updated_since: datetime | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> HeldPage:
    """The leads the partner holds, oldest change first, in pages (keyset on change time and id)."""
    query = select(LeadRow).where(LeadRow.partner_id == partner.partner_id)
    if updated_since is not None:
        since = updated_since if updated_since.tzinfo else updated_since.replace(tzinfo=UTC)
        query = query.where(LeadRow.updated_at >= since)
    if cursor:
        stamp, lead_id = _after(cursor)
        query = query.where(
            or_(LeadRow.updated_at > stamp, and_(LeadRow.updated_at == stamp, LeadRow.id > lead_id))
        )
    with db.transaction() as session:
        rows = list(
            session.execute(query.order_by(LeadRow.updated_at, LeadRow.id).limit(limit + 1)).scalars()
        )
        items = [
            HeldItem(lead_id=r.id, state=r.state, updated_at=r.updated_at, lead=lead_from_row(r))
            for r in rows[:limit]
        ]
        return HeldPage(items=items, next_cursor=_cursor(rows[limit - 1]) if len(rows) > limit else None)
