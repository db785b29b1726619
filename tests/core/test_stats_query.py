"""The database-aggregated partner stats equal the in-memory rules (``compute_stats``) on random histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadbridge.core.leads import LeadService, event_from_row
from leadbridge.core.model import OfferStatus, new_id
from leadbridge.core.offers import offer_from_row
from leadbridge.core.performance import compute_stats
from leadbridge.core.policy import Performance
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, OfferRow
from tests.builders import a_lead, a_partner

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)  # a Wednesday: day, week and month windows differ


def _random_history(database: Database, seed: int) -> None:
    rng = random.Random(seed)
    with database.transaction() as session:
        partners = [a_partner(session).id for _ in range(4)]
        service = LeadService(session, clock=lambda: NOW)
        for number in range(40):
            lead = a_lead()
            service.receive(lead, actor="test", source_system="test", idempotency_key=f"r:{lead.id}")
            for _ in range(rng.randint(1, 3)):
                partner = rng.choice(partners)
                status = rng.choice(list(OfferStatus))
                offered = NOW - timedelta(hours=rng.choice([1, 20, 30, 24 * 3, 24 * 9, 24 * 40]))
                decided = offered + timedelta(hours=rng.uniform(0.1, 50)) if rng.random() < 0.8 else None
                session.add(
                    OfferRow(
                        id=new_id("O"),
                        lead_id=lead.id,
                        partner_id=partner,
                        round=1,
                        mode=rng.choice(["assign", "round_robin", "offer_n", "pool", "hybrid"]),
                        status=status.value,
                        offered_at=offered,
                        deadline=None,
                        decided_at=decided if status is not OfferStatus.PENDING else None,
                        reason_code=rng.choice([None, "not_a_lead", "no_capacity"]),
                        decision={},
                    )
                )
            for seq, kind in enumerate(rng.sample(["win", "lose", "return", "note"], rng.randint(0, 2)), 10):
                session.add(
                    LeadEventRow(
                        id=new_id("E"),
                        lead_id=lead.id,
                        seq=seq,
                        kind=kind,
                        from_state=None,
                        to_state="working",
                        actor="test",
                        source_system="test",
                        occurred_at=NOW,
                        idempotency_key=f"{kind}:{lead.id}:{number}",
                        partner_id=rng.choice([*partners, None]),
                        payload=_payload(rng, kind),
                    )
                )


def _payload(rng: random.Random, kind: str) -> dict[str, str]:
    return {"reason_code": rng.choice(["no_fit", "duplicate"])} if kind == "return" else {}


def test_given_random_histories_then_database_stats_equal_the_in_memory_rules(database: Database) -> None:
    config = Performance()
    for seed in range(3):
        _random_history(database, seed)
        with database.transaction() as session:
            offers = [offer_from_row(r) for r in session.execute(select(OfferRow)).scalars()]
            events = [event_from_row(r) for r in session.execute(select(LeadEventRow)).scalars()]
            expected = compute_stats(offers, events, config, now=NOW)
            actual = load_stats(session, config, now=NOW)
        assert set(actual) == set(expected)
        for partner_id, stats in expected.items():
            assert actual[partner_id] == stats, partner_id
        assert any(s.open_leads for s in actual.values()) and any(s.today for s in actual.values())


def test_given_pool_listings_then_open_ones_use_no_capacity_and_unclaimed_ones_are_no_expiry(
    database: Database,
) -> None:
    with database.transaction() as session:
        partner = a_partner(session).id
        service = LeadService(session, clock=lambda: NOW)
        for mode, status in [
            ("pool", "pending"),
            ("pool", "expired"),
            ("hybrid", "accepted"),
            ("offer_n", "pending"),
        ]:
            lead = a_lead()
            service.receive(lead, actor="test", source_system="test", idempotency_key=f"r:{lead.id}")
            session.add(
                OfferRow(
                    id=new_id("O"),
                    lead_id=lead.id,
                    partner_id=partner,
                    round=1,
                    mode=mode,
                    status=status,
                    offered_at=NOW - timedelta(hours=1),
                    deadline=None,
                    decided_at=NOW if status != "pending" else None,
                    decision={},
                )
            )
    with database.transaction() as session:
        stats = load_stats(session, Performance(), now=NOW)[partner]
    assert (stats.today, stats.expired, stats.accepted) == (2, 0, 1)  # the claim and the push offer
