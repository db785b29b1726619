"""``match``: decide, for one lead, the channel and the partners — a pure function.

The rule, in order:
1. Channel rules send the lead to direct sales when its annual revenue reaches
   ``channel.direct_sales_min_revenue``, its account id or company is a named account, it already
   has an owner (``direct_if_owner``), or the distribution mode is ``direct``.
2. Every partner the territory index pre-selects goes through the hard filters
   (``filters.py``); the first filter it fails excludes it.
3. Each remaining partner is scored by the weighted scorers (``scorers.py``); weights depend on
   its performance tier. Candidates are ranked by score, then partner id.
4. The distribution mode picks from the ranking: ``assign`` the best (exact ties drawn by the
   rng), ``offer_n`` the top N, ``cascade`` the first ``cascade_length`` in order, ``open_pool``
   the top ``pool_size``, ``round_robin`` one partner by weighted round robin among the equally fit.
No candidate at all gives channel ``no_partner`` (the planner applies the fallback).

``explain=True`` scans every partner (not only the index's pre-selection) and records each
exclusion with its filter, and each candidate's per-scorer contributions; picks and scores are
identical either way (the bench checks this). Without it only scores are kept, for speed.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from operator import mul

from leadbridge.core.geo import Gazetteer, load_gazetteer
from leadbridge.core.matching import roundrobin
from leadbridge.core.matching.decision import Candidate, Channel, Decision, Excluded
from leadbridge.core.matching.filters import (
    Filter,
    FilterEnv,
    enabled_filters,
    first_failure,
    relevant_filters,
)
from leadbridge.core.matching.index import PartnerIndex
from leadbridge.core.matching.scorers import (
    LEAD_DEPENDENT,
    PARTNER_ONLY,
    SCORERS,
    ScoreParams,
    Scorer,
    distance_km,
    score_params,
)
from leadbridge.core.matching.vectors import LeadCtx, PartnerVec, lead_ctx
from leadbridge.core.model import Lead, Offer, OfferStatus
from leadbridge.core.partner import Partner
from leadbridge.core.performance import PartnerStats, prior_stats
from leadbridge.core.policy import Mode, PerformanceTierName, Policy

# Offer statuses that bar a partner from the same lead in later rounds, and the word used for it.
BARRING_STATUSES = {
    OfferStatus.DECLINED: "declined",
    OfferStatus.EXPIRED: "expired",
    OfferStatus.RETURNED: "returned",
}


@dataclass(frozen=True)
class History:
    """What happened to this lead before: partners barred from it (id → why) and the round."""

    barred: dict[str, str] = field(default_factory=dict)
    round: int = 1


def history_from_offers(offers: Sequence[Offer]) -> History:
    """Partners that declined, let expire or returned the lead are barred; round = last + 1."""
    barred = {o.partner_id: BARRING_STATUSES[o.status] for o in offers if o.status in BARRING_STATUSES}
    last_round = max((o.round for o in offers), default=0)
    return History(barred=barred, round=last_round + 1)


@dataclass(frozen=True)
class Compiled:
    """A policy turned into the lists the inner loop reads (built once per policy object)."""

    policy: Policy
    filters: list[tuple[str, Filter]]
    scorer_names: tuple[str, ...]
    lead_scorers: tuple[Scorer, ...]
    partner_scorers: tuple[Scorer, ...]
    partner_values: dict[str, tuple[PartnerVec, PartnerStats, list[float], float]]
    lead_weights: dict[PerformanceTierName, tuple[float, ...]]
    partner_weights: dict[PerformanceTierName, tuple[float, ...]]
    params: ScoreParams
    gazetteer: Gazetteer
    env: FilterEnv
    fast_filters: list[tuple[str, Filter]]
    last_env: list[FilterEnv | None] = field(default_factory=lambda: [None])

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


def build_index(partners: Sequence[Partner], policy: Policy, now: datetime) -> PartnerIndex:
    """The partner index for ``now``'s day with the policy's gazetteer (build once per batch)."""
    return PartnerIndex(partners, now.date(), compile_policy(policy).gazetteer)


def channel_rule(lead: Lead, policy: Policy) -> str | None:
    """Why the lead goes to direct sales, or ``None`` when it stays in the partner channel."""
    rules = policy.channel
    threshold = rules.direct_sales_min_revenue
    if threshold is not None and lead.annual_revenue is not None and lead.annual_revenue >= threshold:
        return f"annual revenue {lead.annual_revenue} ≥ {threshold}"
    names = set(rules.named_accounts)
    for value in (lead.account_id, lead.company):
        if value and value.strip().casefold() in names:
            return f"named account {value}"
    if rules.direct_if_owner and lead.owner:
        return f"existing owner {lead.owner}"
    if policy.distribution.mode is Mode.DIRECT:
        return "policy distributes every lead to direct sales"
    return None


def match(
    lead: Lead,
    partners: PartnerIndex | Sequence[Partner],
    policy: Policy,
    stats: Mapping[str, PartnerStats],
    *,
    now: datetime,
    rng: random.Random,
    history: History | None = None,
    explain: bool = False,
    scan_all: bool = False,
) -> Decision:
    """Decide channel, candidates and picks for ``lead`` (rules in the module docstring)."""
    compiled = compile_policy(policy)
    index = partners if isinstance(partners, PartnerIndex) else build_index(partners, policy, now)
    if index.day != now.date():
        index = PartnerIndex(index.partners, now.date(), index.gazetteer)
    history = history or History()
    mode = policy.distribution.mode
    decision = Decision(
        lead_id=lead.id,
        policy_name=policy.name,
        policy_version=policy.version,
        mode=mode.value,
        channel=Channel.PARTNER,
        reason="",
        decided_at=now,
        round=history.round,
        explained=explain,
    )
    direct = channel_rule(lead, policy)
    if direct is not None:
        decision.channel, decision.reason = Channel.DIRECT_SALES, direct
        return decision
    owners = index.account_owners.get(lead.account_id, frozenset()) if lead.account_id else frozenset()
    ctx = lead_ctx(lead, index.gazetteer, now=now, excluded=history.barred, account_owners=owners)
    env = compiled.env_for(stats)
    if explain or scan_all:
        pool, cut = index.vecs, None
    else:
        cut = _product_cut(ctx, policy)
        pool = index.candidates(ctx, cut)
    fast = relevant_filters(compiled.fast_filters, ctx, env, product_cut=cut is not None)
    params, max_km, default = compiled.params, compiled.params.max_km, env.default_stats
    names, lead_scorers, lead_weights = compiled.scorer_names, compiled.lead_scorers, compiled.lead_weights
    partner_values = compiled.partner_values
    candidates: list[Candidate] = []
    for vec in pool:
        if explain:
            failed = first_failure(compiled.filters, ctx, vec, env)
            if failed is not None:
                decision.excluded.append(Excluded(vec.id, *failed))
                continue
        else:
            # the hot path (~30 partners per lead): no names, no reasons, just "does any fail?"
            for check in fast:
                if check(ctx, vec, env) is not None:
                    break
            else:
                check = None
            if check is not None:
                continue
        s = stats.get(vec.id) or default
        km = distance_km(ctx, vec)
        # distance is scored here (not by its scorer) so the great-circle distance is computed once
        values = [0.5 if km is None else max(0.0, 1.0 - km / max_km)]
        values += [scorer(ctx, vec, s, params) for scorer in lead_scorers]
        cached = partner_values.get(vec.id)
        if cached is None or cached[0] is not vec or cached[1] is not s:
            cached = _partner_values(compiled, ctx, vec, s)
        if explain:
            lead_parts = list(map(mul, values, lead_weights[s.tier]))
            total = cached[3] + sum(lead_parts)
            contributions = dict(zip(names, lead_parts + cached[2], strict=True))
        else:  # the same sum without building the per-factor list
            total = cached[3] + sum(map(mul, values, lead_weights[s.tier]))
            contributions = {}
        candidates.append(Candidate(vec.id, total, contributions, s.tier, km))  # tier: a StrEnum (a str)
    candidates.sort(key=lambda c: (-c.score, c.partner_id))
    decision.candidates = candidates
    decision.excluded_total = len(index.vecs) - len(candidates)
    if not candidates:
        decision.channel, decision.reason = Channel.NO_PARTNER, "no partner passed the filters"
        return decision
    decision.chosen = _choose(mode, candidates, policy, index, stats, env.default_stats, rng)
    decision.reason = f"{mode.value}: {len(candidates)} candidate(s)"
    return decision


def _product_cut(ctx: LeadCtx, policy: Policy) -> str | None:
    """A product line every admissible partner carries (the index then reads only those), or None."""
    rule = policy.filters.product_line
    if rule.enabled and rule.require == "all" and ctx.products:
        return ctx.products[0]
    return None


def _partner_values(
    compiled: Compiled, ctx: LeadCtx, vec: PartnerVec, s: PartnerStats
) -> tuple[PartnerVec, PartnerStats, list[float], float]:
    """Weighted partner-only scorer values and their sum, memoised per (vector, stats) pair."""
    weights = compiled.partner_weights[s.tier]
    parts = [
        scorer(ctx, vec, s, compiled.params) * w
        for scorer, w in zip(compiled.partner_scorers, weights, strict=True)
    ]
    if len(compiled.partner_values) > 200_000:
        compiled.partner_values.clear()
    entry = (vec, s, parts, sum(parts))
    compiled.partner_values[vec.id] = entry
    return entry


def _choose(
    mode: Mode,
    candidates: list[Candidate],
    policy: Policy,
    index: PartnerIndex,
    stats: Mapping[str, PartnerStats],
    default: PartnerStats,
    rng: random.Random,
) -> list[str]:
    distribution = policy.distribution
    if mode is Mode.OFFER_N:
        return [c.partner_id for c in candidates[: distribution.offer_n]]
    if mode is Mode.CASCADE:
        return [c.partner_id for c in candidates[: distribution.cascade_length]]
    if mode is Mode.OPEN_POOL:
        return [c.partner_id for c in candidates[: distribution.pool_size]]
    if mode is Mode.ROUND_ROBIN:
        picked = roundrobin.pick(
            candidates,
            index.by_id,
            lambda pid: (stats.get(pid) or default).round_robin_count,
            distribution,
            rng,
        )
        return [picked] if picked else []
    top = candidates[0].score
    tied = [c.partner_id for c in candidates if c.score >= top - 1e-9]
    return [tied[0] if len(tied) == 1 else rng.choice(tied)]
