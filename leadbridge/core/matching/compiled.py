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
from leadbridge.core.policy import PerformanceTierName, Policy

# (vector, stats, weighted partner-only values, their sum, upper bound of the whole score)
PartnerEntry = tuple[PartnerVec, PartnerStats, list[float], float, float]


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
    last_env: list[FilterEnv | None] = field(default_factory=lambda: [None])
    # id(index list) → (that list, the stats table, its entries sorted by bound): see evaluate.py
    sorted_runs: dict[int, tuple[Any, Any, Any]] = field(default_factory=dict)

    def env_for(self, stats: Mapping[str, PartnerStats]) -> FilterEnv:
        """The filter environment for ``stats`` (the last one is reused: batches share stats)."""
        last = self.last_env[0]
        if last is None or last.stats is not stats:
            last = self.last_env[0] = replace(self.env, stats=stats)
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
    compiled = Compiled(
        policy=policy,
        filters=filters,
        fast_filters=sorted(filters, key=lambda item: FAST_ORDER.index(item[0])),
        scorer_names=tuple(names),
        lead_scorers=tuple(SCORERS[n] for n in LEAD_DEPENDENT if n != "distance"),
        partner_scorers=tuple(SCORERS[n] for n in PARTNER_ONLY),
        partner_values={},
        lead_weights={t: tuple(policy.weight_for(n, t) for n in lead_names) for t in PerformanceTierName},
        partner_weights={
            t: tuple(policy.weight_for(n, t) for n in PARTNER_ONLY) for t in PerformanceTierName
        },
        # every scorer yields at most 1, so the lead-dependent part adds at most its weights' sum
        lead_max={t: sum(policy.weight_for(n, t) for n in lead_names) for t in PerformanceTierName},
        distance_weight={t: policy.weight_for("distance", t) for t in PerformanceTierName},
        params=score_params(policy),
        gazetteer=load_gazetteer(tuple(policy.geo.gazetteer_files)),
        env=FilterEnv(
            stats={},
            default_stats=prior_stats("", policy.performance),
            performance=policy.performance,
            require_all_products=policy.filters.product_line.require == "all",
            min_certification=policy.filters.certification.min_level,
            capacity_multipliers={tier: policy.capacity_multiplier(tier) for tier in PerformanceTierName},
        ),
    )
    if len(_COMPILED) > 64:
        _COMPILED.clear()
    _COMPILED[id(policy)] = compiled
    return compiled


def partner_values(compiled: Compiled, ctx: LeadCtx, vec: PartnerVec, s: PartnerStats) -> PartnerEntry:
    """Weighted partner-only scorer values, their sum and the partner's best possible score for
    any lead (that sum plus every lead-dependent weight), memoised per (vector, stats) pair."""
    weights = compiled.partner_weights[s.tier]
    parts = [
        scorer(ctx, vec, s, compiled.params) * w
        for scorer, w in zip(compiled.partner_scorers, weights, strict=True)
    ]
    if len(compiled.partner_values) > 200_000:
        compiled.partner_values.clear()
    total = sum(parts)
    entry = (vec, s, parts, total, total + compiled.lead_max[s.tier])
    compiled.partner_values[vec.id] = entry
    return entry
