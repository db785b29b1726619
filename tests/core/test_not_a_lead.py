"""The closed loop: refusing a lead as "not a lead" does not lower a partner's acceptance rate, in
the routing stats (in memory and aggregated by the database) and in the scorecard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadbridge.core.leads import LeadService
from leadbridge.core.model import new_id
from leadbridge.core.offers import offer_from_row
from leadbridge.core.performance import compute_stats
from leadbridge.core.policy import Performance
from leadbridge.core.reports.scorecard import partner_scorecard
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OfferRow
from tests.builders import a_lead, a_partner

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _offer(session, lead_id: str, partner: str, status: str, reason: str | None = None) -> None:
    at = NOW - timedelta(days=2)
    session.add(
        OfferRow(
            id=new_id("O"),
            lead_id=lead_id,
            partner_id=partner,
            round=1,
            mode="offer_n",
            status=status,
            offered_at=at,
            deadline=None,
            decided_at=at + timedelta(hours=1),
            reason_code=reason,
            decision={},
        )
    )


def test_given_not_a_lead_declines_then_acceptance_equals_a_partner_without_them(database: Database) -> None:
    config = Performance(prior_from_history=False)
    with database.transaction() as session:
        clean, refuses_bad, refuses_work = (a_partner(session).id for _ in range(3))
        for number in range(4):
            lead = a_lead()
            LeadService(session).receive(lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}")
            for partner in (clean, refuses_bad, refuses_work):
                if number < 2:
                    _offer(session, lead.id, partner, "accepted")
                elif partner == refuses_bad:
                    _offer(session, lead.id, partner, "declined", "not_a_lead")
                elif partner == refuses_work:
                    _offer(session, lead.id, partner, "declined", "no_capacity")
    with database.transaction() as session:
        from_db = load_stats(session, config, now=NOW)
        offers = [offer_from_row(r) for r in session.execute(select(OfferRow)).scalars()]
        card = partner_scorecard(session)
    in_memory = compute_stats(offers, [], config, now=NOW)
    for stats in (from_db, in_memory):
        assert stats[refuses_bad].acceptance_rate == stats[clean].acceptance_rate
        assert stats[refuses_work].acceptance_rate < stats[clean].acceptance_rate
        assert (stats[refuses_bad].declined, stats[refuses_work].declined) == (0, 2)
    assert card.row(refuses_bad).acceptance_rate == 1.0
    assert card.row(refuses_bad).declined_not_a_lead == 2
    assert card.row(refuses_work).acceptance_rate == 0.5
