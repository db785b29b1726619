"""Weighted round robin among equally fit partners: shares follow weights, caps hold, seeds repeat."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.core.matching import build_index, match
from leadbridge.core.performance import PartnerStats, finish, prior_stats
from leadbridge.core.policy import Performance
from tests.matching.helpers import NOW, lead, partner, policy

TIERS = ["platinum", "gold", "silver", "registered"]


def run(weights: dict[str, float], leads: int, seed: int, caps: dict[str, int] | None = None) -> Counter[str]:
    """Route ``leads`` equal leads, feeding each pick back into the stats (the persisted state)."""
    caps = caps or {}
    partners = [partner(pid, capacity={"max_open": caps.get(pid)}) for pid in weights]
    pol = policy(distribution={"mode": "round_robin", "partner_weights": weights})
    index = build_index(partners, pol, NOW)
    stats: dict[str, PartnerStats] = {}
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    item = lead()
    for _ in range(leads):
        pick = match(item, index, pol, stats, now=NOW, rng=rng).best
        if pick is None:
            counts["(none)"] += 1
            continue
        counts[pick] += 1
        stats[pick] = (stats.get(pick) or prior_stats(pick, Performance())).with_assignment()
    return counts


def test_given_10000_equal_leads_when_round_robin_then_shares_within_2_points_of_weights() -> None:
    weights = {"P-a": 4.0, "P-b": 3.0, "P-c": 2.0, "P-d": 1.0}
    counts = run(weights, 10_000, seed=3)
    for pid, weight in weights.items():
        assert abs(counts[pid] / 10_000 - weight / 10) <= 0.02


@settings(max_examples=8, deadline=None)
@given(
    st.lists(st.floats(0.5, 10), min_size=2, max_size=5),
    st.integers(0, 2**32),
)
def test_property_round_robin_shares_follow_any_weights(raw: list[float], seed: int) -> None:
    weights = {f"P-{n}": w for n, w in enumerate(raw)}
    counts = run(weights, 2_000, seed)
    total = sum(weights.values())
    for pid, weight in weights.items():
        assert abs(counts[pid] / 2_000 - weight / total) <= 0.02


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=4), st.integers(1, 40), st.integers(0, 2**32))
def test_property_caps_are_never_exceeded(caps: list[int], leads: int, seed: int) -> None:
    weights = {f"P-{n}": 1.0 + n for n in range(len(caps))}
    counts = run(weights, leads, seed, caps={f"P-{n}": cap for n, cap in enumerate(caps)})
    for n, cap in enumerate(caps):
        assert counts[f"P-{n}"] <= cap
    assert counts["(none)"] == max(0, leads - sum(caps))


def test_given_the_same_state_and_seed_when_repeated_then_the_same_picks() -> None:
    weights = {"P-a": 1.0, "P-b": 1.0, "P-c": 1.0}
    assert run(weights, 30, seed=9) == run(weights, 30, seed=9)


def test_given_tier_weights_when_no_partner_weight_then_tier_decides() -> None:
    partners = [partner("P-plat", tier="platinum"), partner("P-reg", tier="registered")]
    pol = policy(distribution={"mode": "round_robin"})
    stats = {
        "P-plat": PartnerStats("P-plat", round_robin_count=4),
        "P-reg": PartnerStats("P-reg", round_robin_count=1),
    }
    # next key (count + 1) / weight: platinum 5 / 4 = 1.25, registered 2 / 1 = 2.0 → platinum
    assert match(lead(), partners, pol, stats, now=NOW, rng=random.Random(1)).best == "P-plat"


def test_given_a_partner_clearly_less_fit_when_round_robin_then_it_is_not_in_the_rotation() -> None:
    near = partner("P-near")
    far = partner("P-far", location_latitude=50.5, location_longitude=11.58)  # ~260 km: far lower score
    pol = policy(distribution={"mode": "round_robin", "tie_margin": 0.1})
    stats = {"P-near": finish(PartnerStats("P-near", round_robin_count=100), Performance())}
    assert match(lead(), [near, far], pol, stats, now=NOW, rng=random.Random(1)).best == "P-near"


def test_given_a_zero_weight_when_round_robin_then_that_partner_never_gets_a_lead() -> None:
    counts = run({"P-a": 1.0, "P-zero": 0.0}, 50, seed=1)
    assert counts["P-zero"] == 0 and counts["P-a"] == 50
