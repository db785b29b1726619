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
    pol = policy()
    decision = match(lead(**l_over), [p], pol, stats, now=NOW, rng=rng(), explain=True)
    candidate = decision.candidate("P-x")
    assert candidate is not None
    weight = getattr(pol.scoring.weights, scorer)
    assert candidate.contributions[scorer] == pytest.approx(value * weight, abs=0.01)
    assert candidate.score == pytest.approx(sum(candidate.contributions.values()))


def test_given_tier_multipliers_when_scored_then_weights_change_for_that_tier() -> None:
    strong = finish(PartnerStats("P-x", offers=20, accepted=20, won=20), Performance())
    assert strong.tier == "high"
    pol = policy(performance={"tiers": {"high": {"weight_multipliers": {"tier": 3}}}})
    candidate = match(
        lead(), [partner("P-x")], pol, {"P-x": strong}, now=NOW, rng=rng(), explain=True
    ).candidates[0]
    assert candidate.performance_tier == "high"
    assert candidate.contributions["tier"] == pytest.approx(0.75 * 3)


def test_given_zero_weights_when_scored_then_the_factor_contributes_nothing() -> None:
    pol = policy(scoring={"weights": {"distance": 0}})
    far = partner("P-far", location_latitude=52.5, location_longitude=13.4)
    near = partner("P-near")
    decision = match(lead(), [far, near], pol, {}, now=NOW, rng=rng(), explain=True)
    assert decision.candidate("P-far").contributions["distance"] == 0  # type: ignore[union-attr]
    assert {c.score for c in decision.candidates} == {decision.candidates[0].score}
