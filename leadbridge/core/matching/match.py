"""``match``: decide, for one lead, the channel and the partners — a pure function.

The rule, in order:
1. Channel rules send the lead to direct sales when its annual revenue reaches
   ``channel.direct_sales_min_revenue``, its account id or company is a named account, it already
   has an owner (``direct_if_owner``), or the distribution mode is ``direct``.
2. Every partner the territory index pre-selects goes through the hard filters
   (``filters.py``); the first filter it fails excludes it.
3. Each remaining partner is scored (``scoring.objective``): by default its expected conversions
   P(accept) × P(win | accepted) × reach (smoothed history, ``performance.py``; reach per
   ``policy.Scoring``), the weighted scorers (``scorers.py``) adding at most ``tie_break``; or, with
   ``weighted``, by the weighted scorers alone. Weights depend on its performance tier. Candidates
   are ranked by score, then partner id.
   Exploration: for ``performance.exploration_share`` of leads (by a hash of the lead id, so every
   replay agrees) the best candidate with fewer than ``min_offers_for_tier`` offers within half
   reach or better, if any, is moved to the front before the mode picks (the reason says so).
4. The distribution mode picks from the ranking: ``assign`` the best (exact ties drawn by the
   rng), ``offer_n`` the top N, ``cascade`` the first ``cascade_length`` in order, ``pool`` and
   ``hybrid`` the top ``pool_size`` (the pool's eligible partners), ``shark_tank`` the top
   ``shark_tank_max``, ``round_robin`` one partner by weighted round robin among the equally fit.
No candidate at all gives channel ``no_partner`` (the planner applies the fallback).

``explain=True`` scans every partner (not only the index's pre-selection) and records each
exclusion with its filter, and each candidate's per-scorer contributions; ``scan_all=True`` scans
every partner without recording (the brute-force reference). Otherwise the index pre-selects and
``evaluate_bounded`` skips partners that cannot reach the picks (``Decision.pruned``). Picks and
their scores are identical every way (tests and the bench check this).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadbridge.core.matching import roundrobin
from leadbridge.core.matching.compiled import Compiled, compile_policy
from leadbridge.core.matching.decision import Candidate, Channel, Decision
from leadbridge.core.matching.evaluate import evaluate_all, evaluate_bounded, score
from leadbridge.core.matching.filters import FilterEnv, relevant_filters
from leadbridge.core.matching.index import PartnerIndex
from leadbridge.core.matching.vectors import LeadCtx, lead_ctx
from leadbridge.core.model import Lead, Offer, OfferStatus
from leadbridge.core.partner import Partner
from leadbridge.core.performance import PartnerStats
from leadbridge.core.policy import Distribution, Mode, Objective, Policy

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
        policy_hash=compiled.policy_hash,
    )
    direct = channel_rule(lead, policy)
    if direct is not None:
        decision.channel, decision.reason = Channel.DIRECT_SALES, direct
        return decision
    owners = index.account_owners.get(lead.account_id, frozenset()) if lead.account_id else frozenset()
    ctx = lead_ctx(lead, index.gazetteer, now=now, excluded=history.barred, account_owners=owners)
    env = compiled.env_for(stats)
    explore = mode is not Mode.ROUND_ROBIN and explores(lead.id, policy)
    if explain or scan_all:
        candidates = evaluate_all(compiled, ctx, env, index.vecs, explain=explain, excluded=decision.excluded)
    else:
        cut = _product_cut(ctx, policy)
        checks = relevant_filters(compiled.fast_filters, ctx, env, product_cut=cut is not None)
        # an exploring lead needs every candidate (a new partner need not be near the top)
        keep = len(index.vecs) if explore else _needed(policy, len(index.vecs))
        candidates, decision.pruned = evaluate_bounded(
            compiled, ctx, env, index.candidate_lists(ctx, cut), checks, keep=keep
        )
    candidates.sort(key=lambda c: (-c.score, c.partner_id))
    decision.excluded_total = len(index.vecs) - len(candidates) - decision.pruned
    if not candidates:
        decision.channel, decision.reason = Channel.NO_PARTNER, "no partner passed the filters"
        return decision
    reason = f"{mode.value}: {len(candidates)} candidate(s)"
    if explore:
        newcomer = _best_newcomer(candidates, stats, env.default_stats, policy, compiled, index)
        if newcomer is not None and newcomer is not candidates[0]:
            candidates.remove(newcomer)
            candidates.insert(0, newcomer)
            reason += f"; exploration: new partner {newcomer.partner_id} first"
    decision.candidates = candidates
    decision.chosen = _choose(mode, candidates, policy, index, stats, env.default_stats, rng, explore)
    decision.reason = reason
    if not explain:
        _itemise_picks(compiled, ctx, env, index, decision)
    return decision


def _itemise_picks(
    compiled: Compiled, ctx: LeadCtx, env: FilterEnv, index: PartnerIndex, decision: Decision
) -> None:
    """Give the chosen candidates their per-scorer contributions (a handful of partners), so a
    decision made without ``explain`` still shows why its picks won — the same scores, itemised."""
    picked = set(decision.chosen)

    def itemised(c: Candidate) -> Candidate:
        s = env.stats.get(c.partner_id) or env.default_stats
        return score(compiled, ctx, index.by_id[c.partner_id], s, explain=True)

    decision.candidates = [itemised(c) if c.partner_id in picked else c for c in decision.candidates]


def explores(lead_id: str, policy: Policy) -> bool:
    """Whether this lead is one of the ``exploration_share`` that favour a new partner (by a hash
    of its id: the same lead explores in every replay and every round)."""
    share = policy.performance.exploration_share
    if share <= 0:
        return False
    roll = int.from_bytes(hashlib.blake2b(lead_id.encode(), digest_size=8).digest(), "big") / 2**64
    return roll < share


# Exploration sends a lead only where it can teach something: to a newcomer within this reach.
EXPLORE_MIN_REACH = 0.5


def _best_newcomer(
    candidates: list[Candidate],
    stats: Mapping[str, PartnerStats],
    default: PartnerStats,
    policy: Policy,
    compiled: Compiled,
    index: PartnerIndex,
) -> Candidate | None:
    """The best-ranked candidate with fewer offers than a performance tier needs and at least
    ``EXPLORE_MIN_REACH`` reach (a lead far beyond a newcomer's reach converts too rarely to
    learn from), if any."""
    needed = max(1, policy.performance.min_offers_for_tier)
    reach = compiled.reach
    for c in candidates:
        if (stats.get(c.partner_id) or default).offers >= needed:
            continue
        if reach.of(c.distance_km, reach.radius(index.by_id[c.partner_id])) >= EXPLORE_MIN_REACH:
            return c
    return None


def _product_cut(ctx: LeadCtx, policy: Policy) -> str | None:
    """A product line every admissible partner carries (the index then reads only those), or None."""
    rule = policy.filters.product_line
    if rule.enabled and rule.require == "all" and ctx.products:
        return ctx.products[0]
    return None


# Modes that pick the best K candidates, and their K.
_TOP_K: dict[Mode, Callable[[Distribution], int]] = {
    Mode.OFFER_N: lambda d: d.offer_n,
    Mode.CASCADE: lambda d: d.cascade_length,
    Mode.POOL: lambda d: d.pool_size,
    Mode.HYBRID: lambda d: d.pool_size,
    Mode.SHARK_TANK: lambda d: d.shark_tank_max,
}


def _needed(policy: Policy, partners: int) -> int:
    """How many of the best candidates the mode may pick from (so none of them may be pruned)."""
    distribution = policy.distribution
    mode = distribution.mode
    if mode in _TOP_K:
        return _TOP_K[mode](distribution)
    if mode is Mode.ROUND_ROBIN:
        # its equally-fit band starts at the best partner with a positive weight: prune nothing
        return max(1, partners)
    return 1


def _choose(
    mode: Mode,
    candidates: list[Candidate],
    policy: Policy,
    index: PartnerIndex,
    stats: Mapping[str, PartnerStats],
    default: PartnerStats,
    rng: random.Random,
    explore: bool = False,
) -> list[str]:
    distribution = policy.distribution
    if mode in _TOP_K:
        return [c.partner_id for c in candidates[: _TOP_K[mode](distribution)]]
    if mode is Mode.ROUND_ROBIN:
        picked = roundrobin.pick(
            candidates,
            index.by_id,
            lambda pid: (stats.get(pid) or default).round_robin_count,
            distribution,
            rng,
            relative=policy.scoring.objective is Objective.EXPECTED_CONVERSIONS,
        )
        return [picked] if picked else []
    top = candidates[0].score
    if explore and candidates[1:] and candidates[1].score > top:
        return [candidates[0].partner_id]  # an explored newcomer was moved in front
    tied = [c.partner_id for c in candidates if c.score >= top - 1e-9]
    return [tied[0] if len(tied) == 1 else rng.choice(tied)]
