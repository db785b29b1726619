"""What a policy simulation replays, read from the database: past qualified leads, the partners,
their stats, the leads' offers and a conversion model fitted on stored offers and outcomes.

Shared by ``leadbridge simulate`` and the cockpit's policy preview (``web/policy_pages.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.leads import event_from_row, lead_from_row
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import Lead, Offer
from leadbridge.core.offers import offer_from_row
from leadbridge.core.outcomes import ConversionModel, model_from
from leadbridge.core.partner import Partner
from leadbridge.core.partner_index_cache import partners_and_index
from leadbridge.core.performance import StatsTable
from leadbridge.core.policy import Policy
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow


@dataclass
class Replay:
    """What a replay reads from the database."""

    leads: list[Lead]
    partners: list[Partner]
    stats: StatsTable
    history: dict[str, list[Offer]]
    model: ConversionModel


def load_replay(
    session: Session, policy: Policy, since: datetime | None, limit: int, now: datetime
) -> Replay:
    query = select(LeadRow).order_by(LeadRow.created_at, LeadRow.id).limit(limit)
    if since is not None:
        start = datetime.combine(date(since.year, since.month, since.day), time(0), UTC)
        query = query.where(LeadRow.created_at >= start)
    rows = list(session.execute(query).scalars())
    partners, _ = partners_and_index(session, policy, now)
    stats = load_stats(session, policy.performance, now=now)
    offers = [offer_from_row(row) for row in session.execute(select(OfferRow)).scalars()]
    outcomes = select(LeadEventRow).where(LeadEventRow.kind.in_([EventKind.WIN.value, EventKind.LOSE.value]))
    events = [event_from_row(row) for row in session.execute(outcomes).scalars()]
    wanted = {row.id for row in rows}
    history: dict[str, list[Offer]] = {}
    for offer in offers:
        if offer.lead_id in wanted:
            history.setdefault(offer.lead_id, []).append(offer)
    leads = [lead for lead in (lead_from_row(r) for r in rows) if lead.is_qualified]
    return Replay(leads, list(partners.values()), stats, history, model_from(offers, events))
