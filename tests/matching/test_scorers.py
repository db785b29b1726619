"""Every scorer, table-driven: its value for a lead/partner pair, and its recorded contribution."""

from __future__ import annotations

from typing import Any

import pytest

from leadbridge.core.matching import match
from leadbridge.core.performance import PartnerStats, finish
from leadbridge.core.policy import Performance
from tests.matching.helpers import NOW, lead, partner, policy, rng

# (case, scorer, partner overrides, lead overrides, stats counts, expected value 0..1)
CASES: list[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any], float]] = [
    ("same place", "distance", {}, {}, {}, 1.0),
    ("150 km of 300", "distance", {"location_latitude": 49.486, "location_longitude": 11.575}, {}, {}, 0.5),
    ("beyond the maximum", "distance", {"location_latitude": 52.52, "location_longitude": 13.4}, {}, {}, 0.0),
    (
        "partner location unknown",
        "distance",
        {"location_latitude": None, "location_longitude": None},
        {},
        {},
        0.5,
    ),
    ("platinum", "tier", {"tier": "platinum"}, {}, {}, 1.0),
    ("registered", "tier", {"tier": "registered"}, {}, {}, 0.25),
    ("level 2 of 3", "certification", {}, {}, {}, 2 / 3),
    (
        "level above max",
        "certification",
        {"certifications": [{"name": "heat_pumps", "level": 5}]},
        {},
        {},
        1.0,
    ),
    ("industry served", "industry", {"industries": ["Construction"]}, {}, {}, 1.0),
    ("industry not served", "industry", {"industries": ["retail"]}, {}, {}, 0.0),
    ("lead without industry", "industry", {"industries": ["retail"]}, {"industry": None}, {}, 0.5),
    ("segment served", "size", {"segments": ["smb"]}, {"employees": 10}, {}, 1.0),
    ("segment open", "size", {"segments": []}, {"employees": 10}, {}, 0.5),
    ("new partner win rate = prior", "win_rate", {}, {}, {}, 0.2),
    ("10 won of 10", "win_rate", {}, {}, {"won": 10}, (10 + 2) / 20),
    ("new partner acceptance = prior", "acceptance", {}, {}, {}, 0.7),
    ("0 of 10 accepted", "acceptance", {}, {}, {"declined": 10}, 7 / 20),
    ("prior 8 h vs target 4 h", "speed", {}, {}, {}, 1 / 3),
    ("no load without cap", "load", {}, {}, {}, 1.0),
    ("10 open, scale 10", "load", {}, {}, {"open_leads": 10}, 0.5),
    ("5 open of 20", "load", {"capacity": {"max_open": 20}}, {}, {"open_leads": 5}, 0.75),
]


@pytest.mark.parametrize(
    ("scorer", "p_over", "l_over", "counts", "value"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_given_a_pair_when_scored_then_value_times_weight_is_recorded(
    scorer: str, p_over: dict, l_over: dict, counts: dict, value: float
) -> None:
    p = partner("P-x", **p_over)
    stats = {"P-x": finish(PartnerStats("P-x", **counts), Performance())}
    pol = policy(scoring={"objective": "weighted"})
    decision = match(lead(**l_over), [p], pol, stats, now=NOW, rng=rng(), explain=True)
    candidate = decision.candidate("P-x")
    assert candidate is not None
    weight = getattr(pol.scoring.weights, scorer)
    assert candidate.contributions[scorer] == pytest.approx(value * weight, abs=0.01)
    assert candidate.score == pytest.approx(sum(candidate.contributions.values()))


def test_given_tier_multipliers_when_scored_then_weights_change_for_that_tier() -> None:
    strong = finish(PartnerStats("P-x", offers=20, accepted=20, won=20), Performance())
    assert strong.tier == "high"
    pol = policy(
        scoring={"objective": "weighted"},
        performance={"tiers": {"high": {"weight_multipliers": {"tier": 3}}}},
    )
    candidate = match(
        lead(), [partner("P-x")], pol, {"P-x": strong}, now=NOW, rng=rng(), explain=True
    ).candidates[0]
    assert candidate.performance_tier == "high"
    assert candidate.contributions["tier"] == pytest.approx(0.75 * 3)


def test_given_zero_weights_when_scored_then_the_factor_contributes_nothing() -> None:
    pol = policy(scoring={"objective": "weighted", "weights": {"distance": 0}})
    far = partner("P-far", location_latitude=52.5, location_longitude=13.4)
    near = partner("P-near")
    decision = match(lead(), [far, near], pol, {}, now=NOW, rng=rng(), explain=True)
    assert decision.candidate("P-far").contributions["distance"] == 0  # type: ignore[union-attr]
    assert {c.score for c in decision.candidates} == {decision.candidates[0].score}


def stats_with(pid: str, *, offers: int, accepted: int, won: int, lost: int) -> PartnerStats:
    declined = offers - accepted
    raw = PartnerStats(pid, offers=offers, accepted=accepted, declined=declined, won=won, lost=lost)
    return finish(raw, Performance())


def test_given_a_better_converter_within_reach_when_scored_then_it_beats_a_nearer_one() -> None:
    # Today's complaint: 10 points of win rate lost to 20 km. Both are within the 50 km reach.
    near = partner("P-near")
    better = partner("P-better", location_latitude=48.32)  # 20 km north
    stats = {
        "P-near": stats_with("P-near", offers=100, accepted=70, won=14, lost=56),  # 20 % win
        "P-better": stats_with("P-better", offers=100, accepted=70, won=21, lost=49),  # 30 % win
    }
    decision = match(lead(), [near, better], policy(), stats, now=NOW, rng=rng(), explain=True)
    assert decision.best == "P-better"
    top = decision.candidates[0]
    assert top.factors is not None and top.factors["reach"] == 1.0
    p_accept, p_win = stats["P-better"].acceptance_rate, stats["P-better"].win_rate
    assert top.contributions["expected_conversion"] == pytest.approx(p_accept * p_win)
    assert top.score == pytest.approx(sum(top.contributions.values()))
    # the tie-breakers together stay below tie_break
    assert top.score - top.contributions["expected_conversion"] <= policy().scoring.tie_break + 1e-9


@pytest.mark.parametrize(
    ("km", "reach"),
    [(0, 1.0), (50, 1.0), (100, 0.5), (150, 0.25)],
)
def test_given_a_distance_when_scored_then_reach_is_full_inside_the_radius_and_halves_beyond(
    km: float, reach: float
) -> None:
    far = partner("P-x", location_latitude=48.137 + km / 111.19, location_longitude=11.575)
    decision = match(lead(), [far], policy(), {}, now=NOW, rng=rng(), explain=True)
    factors = decision.candidates[0].factors
    assert factors is not None and factors["reach"] == pytest.approx(reach, abs=0.01)


def test_given_a_partner_radius_when_scored_then_it_is_the_full_reach() -> None:
    wide = partner(
        "P-x",
        location_latitude=49.486,
        territory={"radii": [{"latitude": 49.486, "longitude": 11.575, "km": 160}]},
    )
    decision = match(lead(), [wide], policy(), {}, now=NOW, rng=rng(), explain=True)
    factors = decision.candidates[0].factors
    assert factors is not None and (factors["reach_km"], factors["reach"]) == (160, 1.0)  # 150 km away
    fixed = policy(scoring={"partner_radius": False})
    factors = match(lead(), [wide], fixed, {}, now=NOW, rng=rng(), explain=True).candidates[0].factors
    assert factors is not None and factors["reach"] == pytest.approx(0.25, abs=0.01)  # 100 km beyond 50


def test_given_a_clearly_better_partner_far_beyond_reach_when_scored_then_the_near_one_wins() -> None:
    near = partner("P-near")
    far = partner("P-far", location_latitude=50.5)  # 260 km: reach about 0.05
    stats = {
        "P-near": stats_with("P-near", offers=100, accepted=70, won=14, lost=56),
        "P-far": stats_with("P-far", offers=100, accepted=90, won=45, lost=45),
    }
    assert match(lead(), [near, far], policy(), stats, now=NOW, rng=rng()).best == "P-near"
