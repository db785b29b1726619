"""route_batch: a batch of leads decided in memory with running caps and load."""

from __future__ import annotations

import pytest

from leadbridge.core.matching import build_index
from leadbridge.core.matching.batch import count_offers, offered, route_batch
from leadbridge.core.performance import PartnerStats, StatsTable, compute_stats, finish
from leadbridge.core.policy import Performance
from tests.matching.helpers import NOW, lead, partner, policy

NEAR = partner("P-near", capacity={"per_day": 2})
FAR = partner("P-far", location_latitude=48.5)


def test_given_a_daily_cap_when_a_batch_is_routed_then_the_cap_holds_and_the_rest_go_elsewhere() -> None:
    pol = policy(performance={"exploration_share": 0})
    index = build_index([NEAR, FAR], pol, NOW)
    stats = StatsTable({})
    batch = route_batch([lead() for _ in range(5)], index, pol, stats, now=NOW, seed=1)
    assert [d.best for d in batch.decisions] == ["P-near", "P-near", "P-far", "P-far", "P-far"]
    assert (batch.stats["P-near"].today, batch.stats["P-far"].pending) == (2, 3)
    assert isinstance(batch.stats, StatsTable) and stats == {}  # the stats given never change


def test_given_offer_n_when_batched_then_every_offered_partner_counts() -> None:
    pol = policy(distribution={"mode": "offer_n", "offer_n": 2})
    index = build_index([NEAR, FAR], pol, NOW)
    batch = route_batch([lead()], index, pol, {}, now=NOW, seed=1)
    assert offered(batch.decisions[0]) == ["P-near", "P-far"]
    assert {pid: s.today for pid, s in batch.stats.items()} == {"P-near": 1, "P-far": 1}


def test_given_the_same_seed_when_replayed_then_the_same_decisions() -> None:
    pol = policy()
    index = build_index([partner("P-a"), partner("P-b")], pol, NOW)  # exact ties: drawn by the rng
    leads = [lead() for _ in range(20)]
    first = route_batch(leads, index, pol, {}, now=NOW, seed=5).picks()
    again = route_batch(leads, index, pol, {}, now=NOW, seed=5).picks()
    assert first == again and set(first.values()) == {"P-a", "P-b"}
    with pytest.raises(ValueError, match="rng or a seed"):
        route_batch(leads, index, pol, {}, now=NOW)


def test_given_an_assignment_then_running_stats_match_what_the_database_will_count() -> None:
    """with_assignment == compute_stats after the offer is stored (pending): the old mismatch."""
    from leadbridge.core.model import Offer

    perf = Performance()
    before = compute_stats([], [], perf, now=NOW).get("P-x") or finish(PartnerStats("P-x"), perf)
    after_db = compute_stats([Offer(lead_id="L-1", partner_id="P-x", offered_at=NOW)], [], perf, now=NOW)[
        "P-x"
    ]
    running = count_offers(StatsTable({"P-x": before}), ["P-x"], policy())["P-x"]
    fields = ("open_leads", "pending", "holding", "today", "this_week", "this_month")
    assert {f: getattr(running, f) for f in fields} == {f: getattr(after_db, f) for f in fields}
