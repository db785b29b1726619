"""Execute the SLA engine's actions: expire offers, record reminders and escalations, then re-route.

Rules: ``core/sla.py`` decides (pure); this module records each action once (its idempotency key
makes a repeated tick a no-op) and, for leads whose offers expired or that were reclaimed (returned
by ``sla`` with the reason ``sla_<breach>``), lets the router take the next step at once (cascade
on, next round, re-listing in the pool, or fallback) instead of waiting for the next routing pass.
Pool windows (widening, closing) are ``core/pool_tick.py``'s, run by the same tick.
E-mail notifications read the ``remind`` / ``escalate`` events; nothing here sends mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from leadbridge.core.errors import ConflictError
from leadbridge.core.leads import Clock, LeadService, event_from_row
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import LeadEvent, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.policy import Policy
from leadbridge.core.pool_tick import pool_windows
from leadbridge.core.router import RouteSummary, route_pending
from leadbridge.core.sla import SlaActionKind, sla_actions
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow

WATCHED_STATES = (LeadState.OFFERED.value, LeadState.ACCEPTED.value, LeadState.WORKING.value)


@dataclass
class SlaSummary:
    expired: int = 0
    reminded: int = 0
    escalated: int = 0
    reclaimed: int = 0
    pool_widened: int = 0
    pool_closed: int = 0
    rerouted: RouteSummary = field(default_factory=RouteSummary)


# Leads decided per read-only transaction: at a million leads a tick must not open one locked
# transaction per watched lead (most have nothing due); only leads with a due action get their own.
DECIDE_CHUNK = 500


def _due_lead_ids(
    database: Database, lead_ids: list[str], partners: dict[str, Partner], policy: Policy, now: datetime
) -> list[str]:
    """Those of ``lead_ids`` with an SLA action due now, decided in chunks without locks."""
    due: list[str] = []
    for start in range(0, len(lead_ids), DECIDE_CHUNK):
        chunk = lead_ids[start : start + DECIDE_CHUNK]
        with database.transaction() as session:
            states = dict(
                session.execute(select(LeadRow.id, LeadRow.state).where(LeadRow.id.in_(chunk))).all()
            )
            offers = OfferService(session).for_leads(chunk)
            events: dict[str, list[LeadEvent]] = {}
            for row in session.execute(
                select(LeadEventRow).where(LeadEventRow.lead_id.in_(chunk)).order_by(LeadEventRow.seq)
            ).scalars():
                events.setdefault(row.lead_id, []).append(event_from_row(row))
        for lead_id in chunk:
            state = states.get(lead_id)
            if state is not None and sla_actions(
                LeadState(state), offers.get(lead_id, []), events.get(lead_id, []), partners, policy.sla, now
            ):
                due.append(lead_id)
    return due


def sla_tick(database: Database, *, policy: Policy, clock: Clock = utcnow) -> SlaSummary:
    """Run every SLA action due now (module rules) and move expired leads on."""
    summary = SlaSummary()
    now = clock()
    with database.transaction() as session:
        lead_ids = list(
            session.execute(select(LeadRow.id).where(LeadRow.state.in_(WATCHED_STATES))).scalars()
        )
        partners = {p.id: p for p in PartnerRepository(session).all()}
    expired_leads: list[str] = []
    for lead_id in _due_lead_ids(database, lead_ids, partners, policy, now):
        # decided again under the lead's lock: it may have moved since the read above
        with database.transaction() as session:
            leads, offers = LeadService(session, clock), OfferService(session, clock)
            row = leads.get_row(lead_id, for_update=True)
            actions = sla_actions(
                LeadState(row.state),
                offers.for_lead(lead_id),
                leads.events(lead_id),
                partners,
                policy.sla,
                now,
            )
            for action in actions:
                payload = {
                    "reason": action.reason,
                    "offer_id": action.offer_id,
                    "reminder": action.reminder,
                    "due_at": action.due_at.isoformat() if action.due_at else None,
                }
                if action.kind is SlaActionKind.EXPIRE and action.offer_id:
                    try:
                        summary.expired += int(offers.expire(action.offer_id).created)
                        expired_leads.append(lead_id)
                    except ConflictError:
                        pass  # decided meanwhile: nothing to expire
                elif action.kind is SlaActionKind.RECLAIM and action.partner_id:
                    applied = offers.return_lead(
                        lead_id,
                        partner_id=action.partner_id,
                        reason_code=f"sla_{action.reason}",
                        comment=f"taken back by leadbridge: {action.reason} (due {payload['due_at']})",
                        actor="sla",
                        idempotency_key=action.idempotency_key,
                    )
                    summary.reclaimed += int(applied.created)
                    expired_leads.append(lead_id)
                else:
                    kind = EventKind.REMIND if action.kind is SlaActionKind.REMIND else EventKind.ESCALATE
                    applied = leads.apply(
                        lead_id,
                        kind,
                        actor="sla",
                        idempotency_key=action.idempotency_key,
                        partner_id=action.partner_id,
                        offer_id=action.offer_id,
                        payload=payload,
                    )
                    if applied.created:
                        summary.reminded += kind is EventKind.REMIND
                        summary.escalated += kind is EventKind.ESCALATE
    windows = pool_windows(database, policy=policy, clock=clock)
    summary.pool_widened, summary.pool_closed = windows.widened, len(windows.closed)
    expired_leads += windows.closed
    if expired_leads:
        summary.rerouted = route_pending(
            database, policy=policy, lead_ids=sorted(set(expired_leads)), clock=clock
        )
    return summary
