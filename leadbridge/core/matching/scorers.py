"""Weighted scorers: each rates a partner for a lead from 0 (worst) to 1 (best).

A candidate's score is the sum of ``value × weight`` over the scorers; each product is recorded as
that factor's contribution. Weights come from the policy, multiplied per performance tier.
- distance: ``1 - km / distance_max_km`` (0 beyond it) from the lead to the partner's location;
  0.5 when either location is unknown (no evidence either way);
- tier: programme tier rank / 4 (platinum 1.0 … registered 0.25);
- certification: best valid level among the lead's products / ``max_certification_level`` (capped
  at 1); 0.5 for a lead without products;
- industry: 1 when the partner serves the lead's industry, 0 if not, 0.5 when the lead has none;
- size: 1 when the partner serves the lead's size segment, 0 if not, 0.5 when either is unknown;
- win_rate, acceptance: the partner's smoothed rates (``core/performance.py``);
- speed: ``1 / (1 + accept_hours / speed_target_hours)`` — 0.5 at the target;
- load: ``1 - holding / max_open`` with a cap, else ``1 / (1 + holding / load_scale)`` (holding:
  open leads plus pending offers);
- stock: the share of the lead's product lines the partner has in stock (``products_in_stock``);
  0.5 for a lead without products.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from leadbridge.core.geo import haversine_km
from leadbridge.core.matching.vectors import LeadCtx, PartnerVec
from leadbridge.core.performance import PartnerStats
from leadbridge.core.policy import Policy


@dataclass(frozen=True)
class ScoreParams:
    max_km: float
    max_level: int
    speed_target_hours: float
    load_scale: int


Scorer = Callable[[LeadCtx, PartnerVec, PartnerStats, ScoreParams], float]


def distance_km(ctx: LeadCtx, p: PartnerVec) -> float | None:
    if ctx.latitude is None or ctx.longitude is None or p.latitude is None or p.longitude is None:
        return None
    return haversine_km(ctx.latitude, ctx.longitude, p.latitude, p.longitude)


def distance(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    km = distance_km(ctx, p)
    return 0.5 if km is None else max(0.0, 1.0 - km / k.max_km)


def tier(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    return p.tier_rank / 4


def certification(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    if not ctx.products:
        return 0.5
    if len(ctx.products) == 1:  # the common case, without a generator
        best = p.cert_levels.get(ctx.products[0], 0)
    else:
        best = max(p.cert_levels.get(product, 0) for product in ctx.products)
    return min(1.0, best / k.max_level)


def industry(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    if ctx.industry is None:
        return 0.5
    return 1.0 if ctx.industry in p.industries else 0.0


def size(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    if ctx.segment is None or not p.segments:
        return 0.5
    return 1.0 if ctx.segment in p.segments else 0.0


def win_rate(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    return s.win_rate


def acceptance(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    return s.acceptance_rate


def speed(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    return 1.0 / (1.0 + s.accept_hours / k.speed_target_hours)


def load(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    if p.max_open:
        return max(0.0, 1.0 - s.holding / p.max_open)
    return 1.0 / (1.0 + s.holding / k.load_scale)


def stock(ctx: LeadCtx, p: PartnerVec, s: PartnerStats, k: ScoreParams) -> float:
    if not ctx.products:
        return 0.5
    return sum(1 for product in ctx.products if product in p.stock) / len(ctx.products)


SCORERS: dict[str, Scorer] = {
    "distance": distance,
    "tier": tier,
    "certification": certification,
    "industry": industry,
    "size": size,
    "win_rate": win_rate,
    "acceptance": acceptance,
    "speed": speed,
    "load": load,
    "stock": stock,
}


# Scorers that read only the partner and its stats (not the lead): match() caches their values per
# (partner vector, stats object) — both immutable — instead of recomputing them for every lead.
PARTNER_ONLY = ("tier", "win_rate", "acceptance", "speed", "load")
LEAD_DEPENDENT = tuple(name for name in SCORERS if name not in PARTNER_ONLY)


def score_params(policy: Policy) -> ScoreParams:
    scoring = policy.scoring
    return ScoreParams(
        max_km=scoring.distance_max_km,
        max_level=scoring.max_certification_level,
        speed_target_hours=scoring.speed_target_hours,
        load_scale=scoring.load_scale,
    )
