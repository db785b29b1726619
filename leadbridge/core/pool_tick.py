"""Pool windows, level-triggered: widen a hybrid pool to its next group, or close the pool.

Rules:
- due work is a query over stored state, never a timer in memory: ``due_pool_windows`` names the
  leads with a pending pool listing whose window has passed (``offers.deadline``; pool listings
  keep their window there). Losing a tick loses nothing: the next tick finds the same leads;
- for each, in its own transaction with the lead locked, ``pool_plan.next_stage`` decides: the next
  hybrid group is listed and every open listing of the lead gets a new window; otherwise (a plain
  pool, or the last group) every open listing expires and the lead is returned to the caller,
  whose routing pass applies the fallback (``modes.on_refusal``);
- running it twice changes nothing more: a widened lead's windows lie in the future again, a closed
  lead has no pending listing left.
``sla_tick`` runs it; the reconcile sweep can run ``due_pool_windows`` as a due predicate, and
``due_reclaims`` (held leads past their first-contact or stall SLA under ``on_breach: reclaim``) to
start the SLA tick just when a reclaim is due.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, IllegalTransition, NotFound
from leadbridge.core.leads import Clock, LeadService, lead_from_row
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.matching.decision import Decision
from leadbridge.core.matching.modes import pool_listings
from leadbridge.core.matching.pool_plan import next_stage, pool_window_end
from leadbridge.core.model import Offer, OfferStatus, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.policy import POOL_MODES, BreachAction, Policy
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow

log = logging.getLogger(__name__)
ACTOR = "pool"
HELD_STATES = (LeadState.ACCEPTED.value, LeadState.WORKING.value)


@dataclass
class PoolWindows:
    """What one pass did: leads widened to their next group, leads whose pool closed."""

    widened: int = 0
    closed: list[str] = field(default_factory=list)


def due_pool_windows(session: Session, now: datetime, limit: int = 500) -> list[str]:
    """Leads with a pending pool listing whose window has passed (oldest window first)."""
    rows = session.execute(
        select(OfferRow.lead_id, OfferRow.deadline)
        .where(
            OfferRow.status == OfferStatus.PENDING.value,
            OfferRow.deadline <= now,
            OfferRow.mode.in_(POOL_MODES),
        )
        .order_by(OfferRow.deadline)
        .limit(limit)
    ).all()
    return list(dict.fromkeys(lead_id for lead_id, _ in rows))


PARTNER_ACTIVITY = (EventKind.STATUS.value, EventKind.NOTE.value)


def due_reclaims(session: Session, now: datetime, policy: Policy, limit: int = 500) -> list[str]:
    """Held leads a reclaim may be due for (oldest first): no status or note from the holder
    ``first_contact_hours`` after its accept, or none for ``stall_days``. Wall-clock hours: the SLA
    engine, which counts the partner's business hours, decides each one (never earlier than this)."""
    if policy.sla.on_breach is not BreachAction.RECLAIM:
        return []
    holder_event = (LeadEventRow.lead_id == LeadRow.id) & (LeadEventRow.partner_id == LeadRow.partner_id)
    accepted = func.max(case((LeadEventRow.kind == EventKind.ACCEPT.value, LeadEventRow.occurred_at)))
    active = func.max(case((LeadEventRow.kind.in_(PARTNER_ACTIVITY), LeadEventRow.occurred_at)))
    rows = session.execute(
        select(LeadRow.id)
        .join(LeadEventRow, holder_event)
        .where(LeadRow.state.in_(HELD_STATES))
        .group_by(LeadRow.id)
        .having(
            (active.is_(None) & (accepted < now - timedelta(hours=policy.sla.first_contact_hours)))
            | (func.coalesce(active, accepted) < now - timedelta(days=policy.sla.stall_days))
        )
        .order_by(func.coalesce(active, accepted))
        .limit(limit)
    ).scalars()
    return list(rows)


def _pool_decision(offers: list[Offer]) -> Decision | None:
    listed = [o for o in offers if o.mode in POOL_MODES and o.decision]
    if not listed:
        return None
    latest = max(listed, key=lambda o: (o.round, o.offered_at))
    assert latest.decision is not None
    return Decision.from_dict({k: v for k, v in latest.decision.items() if k != "preview"})


def _advance(session: Session, lead_id: str, policy: Policy, clock: Clock, summary: PoolWindows) -> None:
    now = clock()
    leads, offers = LeadService(session, clock), OfferService(session, clock)
    row = leads.get_row(lead_id, for_update=True)
    known = offers.for_lead(lead_id)
    due = [
        o
        for o in known
        if o.status is OfferStatus.PENDING and o.mode in POOL_MODES and o.deadline and o.deadline <= now
    ]
    decision = _pool_decision(known)
    if not due or decision is None:
        return  # claimed or closed meanwhile
    partners = {p.id: p for p in PartnerRepository(session).all()}
    widening = next_stage(decision, known, partners, policy, now=now)
    if widening is None:
        for offer in (o for o in known if o.status is OfferStatus.PENDING and o.mode in POOL_MODES):
            offers.expire(offer.id, actor=ACTOR)
        summary.closed.append(lead_id)
        return
    stage, new = widening
    window = pool_window_end(now, policy)
    for offer_row in offers.pending_for_lead(lead_id):
        offer_row.deadline = window  # every listing of the lead stays open with the next group's
    audit = next(o.decision for o in reversed(known) if o.decision and o.mode in POOL_MODES)
    assert audit is not None
    for spec in pool_listings(decision, new, lead_from_row(row), policy, now=now, stage=stage):
        offers.create(
            lead_id,
            spec.partner_id,
            round=spec.round,
            mode=spec.mode,
            deadline=spec.deadline,
            decision={**audit, "preview": spec.preview},
            actor=ACTOR,
        )
    summary.widened += 1


def pool_windows(
    database: Database, *, policy: Policy, clock: Clock = utcnow, lead_ids: list[str] | None = None
) -> PoolWindows:
    """Widen or close every pool whose window has passed (module rules); one lead per transaction."""
    summary = PoolWindows()
    with database.transaction() as session:
        ids = lead_ids if lead_ids is not None else due_pool_windows(session, clock())
    for lead_id in ids:
        try:
            with database.transaction() as session:
                _advance(session, lead_id, policy, clock, summary)
        except (ConflictError, IllegalTransition, NotFound) as error:
            # claimed or moved by someone else meanwhile: the next tick sees the new state
            log.info("pool window of %s skipped: %s", lead_id, error)
    return summary
