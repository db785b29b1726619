"""A policy compiled into the flat lists and tables the matching hot path reads.

Rule: compiling is a pure function of the policy; the result is cached by the policy object's
identity (policies are never mutated), and it memoises per-partner values that depend only on an
(immutable) partner vector and (immutable) stats object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from leadbridge.core.geo import Gazetteer, load_gazetteer
from leadbridge.core.matching.filters import Filter, FilterEnv, enabled_filters
from leadbridge.core.matching.scorers import (
    LEAD_DEPENDENT,
    PARTNER_ONLY,
    SCORERS,
    ScoreParams,
    Scorer,
    score_params,
)
from leadbridge.core.matching.vectors import LeadCtx, PartnerVec
from leadbridge.core.performance import PartnerStats, prior_stats
from leadbridge.core.policy import Objective, PerformanceTierName, Policy, policy_hash

# (vector, stats, weighted partner-only values, their sum, upper bound of the whole score,
#  expected conversions P(accept) × P(win) — 0 for the weighted objective —, full-reach radius km)
PartnerEntry = tuple[PartnerVec, PartnerStats, list[float], float, float, float, float]


@dataclass(frozen=True)
class Reach:
    """The reach rule of ``Scoring`` (see ``policy.Scoring``)."""

    km: float
    half_km: float
    partner_radius: bool
    unknown: float

    def radius(self, vec: PartnerVec) -> float:
        """Full reach up to the partner's largest territory radius, else the policy's."""
        if self.partner_radius and vec.radii:
            return max(r[2] for r in vec.radii)
        return self.km

    def of(self, km: float | None, radius: float) -> float:
        """1 within ``radius``; halves every ``half_km`` beyond; ``unknown`` without a distance."""
        if km is None:
            return self.unknown
        return 1.0 if km <= radius else 0.5 ** ((km - radius) / self.half_km)


@dataclass(frozen=True)
class Compiled:
    """A policy turned into the lists the inner loop reads (built once per policy object)."""

    policy: Policy
    filters: list[tuple[str, Filter]]
    scorer_names: tuple[str, ...]
    lead_scorers: tuple[Scorer, ...]
    partner_scorers: tuple[Scorer, ...]
    partner_values: dict[str, PartnerEntry]
    lead_weights: dict[PerformanceTierName, tuple[float, ...]]
    partner_weights: dict[PerformanceTierName, tuple[float, ...]]
    lead_max: dict[PerformanceTierName, float]
    distance_weight: dict[PerformanceTierName, float]
    params: ScoreParams
    gazetteer: Gazetteer
    env: FilterEnv
    fast_filters: list[tuple[str, Filter]]
    expected: bool  # the objective is expected conversions (else the weighted sum)
    reach: Reach
    policy_hash: str
    last_env: list[FilterEnv | None] = field(default_factory=lambda: [None])
    # id(index list) → (that list, the stats table, its entries sorted by bound): see evaluate.py
    sorted_runs: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict)

    def env_for(self, stats: Mapping[str, PartnerStats]) -> FilterEnv:
        """The filter environment for ``stats`` (the last one is reused: batches share stats)."""
        last = self.last_env[0]
        if last is None or last.stats is not stats:
            # a table's own prior (pooled rates) is the stats of a partner without history
            default = getattr(stats, "prior", None) or self.env.default_stats
            last = self.last_env[0] = replace(self.env, stats=stats, default_stats=default)
        return last


_COMPILED: dict[int, Compiled] = {}

# Without explanation the first failure need not be reported, only whether any filter fails, so
# filters run cheapest and most selective first (lead-level and set lookups before trigonometry).
FAST_ORDER = [
    "consent",
    "history",
    "segment",
    "product_line",
    "certification",
    "availability",
    "account_owner",
    "territory",
    "capacity",
    "language",
]


def compile_policy(policy: Policy) -> Compiled:
    """The compiled form of ``policy``, cached by object identity (policies are not mutated)."""
    found = _COMPILED.get(id(policy))
    if found is not None and found.policy is policy:
        return found
    # "distance" first: match() scores it inline from the distance it records; then the other
    # lead-dependent scorers; then the partner-only ones, whose values are cached.
    names = ["distance"] + [n for n in LEAD_DEPENDENT if n != "distance"] + list(PARTNER_ONLY)
    lead_names = names[: len(LEAD_DEPENDENT)]
    filters = enabled_filters(policy)
    scoring, products = policy.scoring, policy.filters.product_line
    expected = scoring.objective is Objective.EXPECTED_CONVERSIONS
    stock_scored = products.enabled and products.stock == "prefer"

    def weight(name: str, tier: PerformanceTierName) -> float:
        return 0.0 if name == "stock" and not stock_scored else policy.weight_for(name, tier)

    # Expected conversions: the scorers only break ties — scaled so that together they add at most
    # ``tie_break`` (every scorer yields at most 1).
    scale = 1.0
    if expected:
        top = max(sum(weight(n, t) for n in names) for t in PerformanceTierName)
        scale = scoring.tie_break / top if top > 0 else 0.0

    def weights(chosen: list[str] | tuple[str, ...], tier: PerformanceTierName) -> tuple[float, ...]:
        return tuple(weight(n, tier) * scale for n in chosen)

    compiled = Compiled(
        policy=policy,
        filters=filters,
        fast_filters=sorted(filters, key=lambda item: FAST_ORDER.index(item[0])),
        scorer_names=tuple(names),
        lead_scorers=tuple(SCORERS[n] for n in LEAD_DEPENDENT if n != "distance"),
        partner_scorers=tuple(SCORERS[n] for n in PARTNER_ONLY),
        partner_values={},
        lead_weights={t: weights(lead_names, t) for t in PerformanceTierName},
        partner_weights={t: weights(PARTNER_ONLY, t) for t in PerformanceTierName},
        # every scorer yields at most 1, so the lead-dependent part adds at most its weights' sum
        lead_max={t: sum(weights(lead_names, t)) for t in PerformanceTierName},
        distance_weight={t: weight("distance", t) * scale for t in PerformanceTierName},
        expected=expected,
        reach=Reach(scoring.reach_km, scoring.reach_half_km, scoring.partner_radius, scoring.unknown_reach),
        policy_hash=policy_hash(policy),
        params=score_params(policy),
        gazetteer=load_gazetteer(tuple(policy.geo.gazetteer_files)),
        env=FilterEnv(
            stats={},
            default_stats=prior_stats("", policy.performance),
            performance=policy.performance,
            require_all_products=policy.filters.product_line.require == "all",
            min_certification=policy.filters.certification.min_level,
            radius_narrows=policy.filters.territory.radius == "narrow",
            stock_required=products.stock == "require",
            capacity_multipliers={tier: policy.capacity_multiplier(tier) for tier in PerformanceTierName},
        ),
    )
    if len(_COMPILED) > 64:
        _COMPILED.clear()
    _COMPILED[id(policy)] = compiled
    return compiled


def partner_values(compiled: Compiled, ctx: LeadCtx, vec: PartnerVec, s: PartnerStats) -> PartnerEntry:
    """Weighted partner-only scorer values, their sum, the partner's best possible score for any
    lead (that sum, every lead-dependent weight and its expected conversions at full reach), its
    expected conversions and full-reach radius, memoised per (vector, stats) pair."""
    weights = compiled.partner_weights[s.tier]
    parts = [
        scorer(ctx, vec, s, compiled.params) * w
        for scorer, w in zip(compiled.partner_scorers, weights, strict=True)
    ]
    if len(compiled.partner_values) > 200_000:
        compiled.partner_values.clear()
    total = sum(parts)
    ev = s.acceptance_rate * s.win_rate if compiled.expected else 0.0
    entry = (vec, s, parts, total, total + compiled.lead_max[s.tier] + ev, ev, compiled.reach.radius(vec))
    compiled.partner_values[vec.id] = entry
    return entry
