"""An admin's manual interventions: re-route a lead, assign it to a partner, retry dead letters.

Rules:
- re-route withdraws every pending offer and starts the next round (``reroute``): the reconcile
  loop (or the after-commit kick) has the router pick the lead up again without the earlier
  decliners. A lead already ``routing`` is being re-routed: a second click changes nothing;
- manual assignment puts the lead before one chosen partner as a ``manual`` offer (other pending
  offers are withdrawn), recording who decided it as the offer's routing explanation;
- retrying a dead letter makes it due now with a fresh try budget;
each change is a lead event (its write-back is queued by the sync projector), in one transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import new_id, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.tables import OutboxRow

MANUAL_DEADLINE = timedelta(hours=24)


def _withdraw_pending(session: Session, lead_id: str, actor: str) -> None:
    offers = OfferService(session)
    for row in offers.pending_for_lead(lead_id):
        offers.withdraw(row.id, actor=actor, reason="manual intervention")


def reroute(session: Session, lead_id: str, actor: str) -> None:
    """Back to routing for the next round (lead must be offered or returned)."""
    leads = LeadService(session)
    state = LeadState(leads.get_row(lead_id, for_update=True).state)
    if state is LeadState.ROUTING:
        return  # re-routed already (a double click, two admins): the router is about to pick it up
    if state not in (LeadState.OFFERED, LeadState.RETURNED):
        raise ConflictError(
            f"lead {lead_id} is {state.value}: only offered or returned leads can be re-routed"
        )
    _withdraw_pending(session, lead_id, actor)
    leads.apply(lead_id, EventKind.REROUTE, actor=actor, idempotency_key=f"manual:{new_id('R')}")


def assign(session: Session, lead_id: str, partner_id: str, actor: str) -> str:
    """Offer the lead to ``partner_id`` by hand; returns the new offer's id."""
    partner = PartnerRepository(session).get(partner_id)
    leads = LeadService(session)
    row = leads.get_row(lead_id)
    state = LeadState(row.state)
    step = {LeadState.QUALIFIED: EventKind.ROUTE, LeadState.RETURNED: EventKind.REROUTE}.get(state)
    if step is not None:
        leads.apply(lead_id, step, actor=actor, idempotency_key=f"manual:{new_id('R')}")
    elif state not in (LeadState.ROUTING, LeadState.OFFERED):
        raise ConflictError(f"lead {lead_id} is {state.value}: it cannot be assigned now")
    _withdraw_pending(session, lead_id, actor)
    offer, _ = OfferService(session).create(
        lead_id,
        partner.id,
        round=leads.get_row(lead_id).round,
        mode="manual",
        deadline=utcnow() + MANUAL_DEADLINE,
        decision={"mode": "manual", "assigned_by": actor, "partner_id": partner.id, "candidates": []},
        actor=actor,
        idempotency_key=f"manual-offer:{new_id('R')}",
    )
    return offer.id


def retry_dead(session: Session, ids: Sequence[int]) -> int:
    """Make dead outbox rows due again; returns how many changed."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(OutboxRow)
        .where(OutboxRow.id.in_(list(ids)), OutboxRow.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=utcnow(), claimed_by=None, claimed_at=None)
    )
    return int(result.rowcount or 0)
