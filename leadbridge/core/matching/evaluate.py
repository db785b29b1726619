"""Filtering and scoring the partners of one lead: every one (explained / reference), or bounded.

Rules:
- ``evaluate_all`` runs every partner through the filters and scores each one that passes; with
  ``explain`` it records every exclusion (first failing filter, in policy order) and every
  candidate's per-scorer contributions. It is the reference the bench compares against.
- ``evaluate_bounded`` gives the same picks with less work (branch and bound): a partner's score is
  its cached partner-only part plus a lead-dependent part of at most the sum of those scorers'
  weights (each scorer yields at most 1). Partners are visited by that upper bound, highest first;
  once ``keep`` candidates are found and the next bound is below the ``keep``-th best score, no
  partner left can enter the picks, and they are neither filtered nor scored (``pruned``). A
  partner reached whose bound, with the distance part tightened by the north-south gap (a great
  circle is never shorter), is below that score is skipped too. Ties keep their place: a partner
  whose bound equals a pick's score is still visited. With an immutable ``StatsTable`` the
  index's lists are sorted by bound once and merged per lead. For expected conversions the bound
  is the expected conversions at full reach plus every scorer's (scaled) weight; reach, like the
  distance scorer, is tightened by the north-south gap.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from itertools import chain
from operator import itemgetter, mul

from leadbridge.core.matching.compiled import Compiled, PartnerEntry, partner_values
from leadbridge.core.matching.decision import Candidate, Excluded
from leadbridge.core.matching.filters import Filter, FilterEnv, first_failure
from leadbridge.core.matching.scorers import distance_km
from leadbridge.core.matching.vectors import LeadCtx, PartnerVec
from leadbridge.core.performance import PartnerStats, StatsTable

EPSILON = 1e-9  # float noise allowance when comparing a bound with a score
KM_PER_DEGREE_LAT = 111.19  # just under R·π/180 for haversine's R = 6,371.0088 km


def _cached(compiled: Compiled, ctx: LeadCtx, vec: PartnerVec, s: PartnerStats) -> PartnerEntry:
    cached = compiled.partner_values.get(vec.id)
    if cached is None or cached[0] is not vec or cached[1] is not s:
        cached = partner_values(compiled, ctx, vec, s)
    return cached


def score(
    compiled: Compiled,
    ctx: LeadCtx,
    vec: PartnerVec,
    s: PartnerStats,
    *,
    explain: bool,
    cached: PartnerEntry | None = None,
) -> Candidate:
    """The partner's candidate entry: score (and, explained, each scorer's contribution).
    ``cached``: its partner-only entry when the caller already looked it up.

    Expected conversions: the score is P(accept) × P(win) × reach plus the (scaled) scorers, and
    an explained candidate lists that product as ``expected_conversion`` with its ``factors``."""
    km = distance_km(ctx, vec)
    params = compiled.params
    # distance is scored here (not by its scorer) so the great-circle distance is computed once
    values = [0.5 if km is None else max(0.0, 1.0 - km / params.max_km)]
    values += [scorer(ctx, vec, s, params) for scorer in compiled.lead_scorers]
    if cached is None:
        cached = _cached(compiled, ctx, vec, s)
    main = cached[5] * compiled.reach.of(km, cached[6]) if compiled.expected else 0.0
    if explain:
        lead_parts = list(map(mul, values, compiled.lead_weights[s.tier]))
        contributions = dict(zip(compiled.scorer_names, lead_parts + cached[2], strict=True))
        factors = None
        if compiled.expected:
            contributions = {"expected_conversion": main, **contributions}
            factors = {
                "p_accept": s.acceptance_rate,
                "p_win": s.win_rate,
                "reach": compiled.reach.of(km, cached[6]),
                "reach_km": cached[6],
            }
        return Candidate(vec.id, main + cached[3] + sum(lead_parts), contributions, s.tier, km, factors)
    # the same sum without building the per-factor list; tier is a StrEnum, i.e. a str
    lead_part = sum(map(mul, values, compiled.lead_weights[s.tier]))
    return Candidate(vec.id, main + cached[3] + lead_part, {}, s.tier, km)


def evaluate_all(
    compiled: Compiled,
    ctx: LeadCtx,
    env: FilterEnv,
    pool: Iterable[PartnerVec],
    *,
    explain: bool,
    excluded: list[Excluded],
) -> list[Candidate]:
    """Filter and score every partner in ``pool`` (exclusions appended to ``excluded`` if explained)."""
    stats, default = env.stats, env.default_stats
    filters = compiled.filters
    candidates = []
    for vec in pool:
        failed = first_failure(filters, ctx, vec, env)
        if failed is not None:
            if explain:
                excluded.append(Excluded(vec.id, *failed))
            continue
        candidates.append(score(compiled, ctx, vec, stats.get(vec.id) or default, explain=explain))
    return candidates


Entry = tuple[float, PartnerVec, PartnerStats, PartnerEntry]  # (upper bound, partner, stats, memo)


def _entry(compiled: Compiled, ctx: LeadCtx, vec: PartnerVec, s: PartnerStats) -> Entry:
    cached = compiled.partner_values.get(vec.id)
    if cached is None or cached[1] is not s or cached[0] is not vec:
        cached = partner_values(compiled, ctx, vec, s)
    return cached[4], vec, s, cached


def _presorted(compiled: Compiled, ctx: LeadCtx, vecs: list[PartnerVec], stats: StatsTable) -> list[Entry]:
    """The index list's entries by static bound, highest first, cached per (list, stats table)."""
    found = compiled.sorted_runs.get(id(vecs))
    if found is not None and found[0] is vecs and found[1] is stats:
        return found[2]
    default = stats.prior or compiled.env.default_stats
    run = [_entry(compiled, ctx, v, stats.get(v.id) or default) for v in vecs]
    run.sort(key=itemgetter(0), reverse=True)
    if len(compiled.sorted_runs) > 50_000:
        compiled.sorted_runs.clear()
    compiled.sorted_runs[id(vecs)] = (vecs, stats, run)
    return run


def _by_bound(compiled: Compiled, ctx: LeadCtx, env: FilterEnv, lists: list[list[PartnerVec]]) -> list[Entry]:
    """Every pre-selected partner's entry, highest bound first."""
    stats = env.stats
    if isinstance(stats, StatsTable):
        # an immutable table: the index's lists are sorted once; the runs merge in C (timsort)
        runs = [_presorted(compiled, ctx, vecs, stats) for vecs in lists]
        if len(runs) == 1:
            return runs[0]
        return sorted(chain.from_iterable(runs), key=itemgetter(0), reverse=True)
    default = env.default_stats
    entries = [_entry(compiled, ctx, vec, stats.get(vec.id) or default) for vecs in lists for vec in vecs]
    entries.sort(key=itemgetter(0), reverse=True)
    return entries


def evaluate_bounded(
    compiled: Compiled,
    ctx: LeadCtx,
    env: FilterEnv,
    lists: list[list[PartnerVec]],
    checks: list[Filter],
    *,
    keep: int,
) -> tuple[list[Candidate], int]:
    """Candidates that can reach the picks, and how many partners were pruned unvisited."""
    entries = _by_bound(compiled, ctx, env, lists)
    candidates: list[Candidate] = []
    best: list[float] = []  # min-heap of the ``keep`` best scores so far
    examined = 0
    lead_lat, per_km = ctx.latitude, KM_PER_DEGREE_LAT / compiled.params.max_km
    distance_weight = compiled.distance_weight
    expected, reach = compiled.expected, compiled.reach
    for bound, vec, s, cached in entries:
        if len(best) >= keep:
            floor = best[0] - EPSILON
            if bound < floor:
                break  # entries come highest bound first: none left can reach the picks
            # Tighten the distance part: unknown locations score exactly 0.5; otherwise the
            # distance is at least the north-south gap (a great circle is never shorter).
            weight = distance_weight[s.tier]
            if lead_lat is None or vec.latitude is None:
                cap = 0.5 * weight + (cached[5] * (1.0 - reach.unknown) if expected else 0.0)
            else:
                gap = abs(lead_lat - vec.latitude)
                cap = weight * min(1.0, gap * per_km)
                if expected:  # reach falls with distance too: at least the north-south gap's fall
                    cap += cached[5] * (1.0 - reach.of(gap * KM_PER_DEGREE_LAT, cached[6]))
            if bound - cap < floor:
                continue
        examined += 1
        for check in checks:  # a plain loop: this runs for most pre-selected partners of every lead
            if check(ctx, vec, env) is not None:
                break
        else:
            check = None
        if check is not None:
            continue
        candidate = score(compiled, ctx, vec, s, explain=False, cached=cached)
        candidates.append(candidate)
        if len(best) < keep:
            heapq.heappush(best, candidate.score)
        elif candidate.score > best[0]:
            heapq.heapreplace(best, candidate.score)
    return candidates, sum(len(vecs) for vecs in lists) - examined
