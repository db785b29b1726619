"""Hard filters: each says why a partner may NOT get a lead, or ``None`` when it may.

The filters, in the order they are checked (the first failure is the one reported):
- availability: the partner is inactive, paused until a later time, or on holiday today;
- history: it already declined, let expire or returned this lead;
- territory: its *area* is its countries (and, if it lists any, postal prefixes or ranges: the
  lead's code must match one); its radii are circles (great-circle distance). A partner with only
  an area or only radii needs the lead inside it. With both, ``filters.territory.radius: narrow``
  (the default) needs the lead inside the area *and* a radius (a lead without a location is judged
  by the area alone); ``widen`` accepts either;
- consent: the lead's consent scope does not cover the partner (any / classes by tier, country and
  tag / named partners / none: ``consent_scope``);
- product_line: it does not carry the lead's product lines (``all`` of them, or ``any``, per policy);
  with ``stock: require`` it must also have them in stock (``products_in_stock``);
- certification: its valid certification level for a lead product line it carries is below the
  policy minimum (0, the default, excludes nobody);
- segment: it serves named segments and the lead's size segment is not among them;
- language: it does not speak the lead's language;
- capacity: open leads or leads this day/week/month reached the cap (× its performance tier's
  capacity multiplier, rounded down);
- account_owner: the lead's account is owned by another partner.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from leadbridge.core.geo import haversine_km
from leadbridge.core.matching.vectors import LeadCtx, PartnerVec
from leadbridge.core.performance import PartnerStats
from leadbridge.core.policy import Performance, PerformanceTierName, Policy


@dataclass(frozen=True)
class FilterEnv:
    """What filters read besides the lead and the partner: stats and policy parameters."""

    stats: Mapping[str, PartnerStats]
    default_stats: PartnerStats
    performance: Performance
    require_all_products: bool
    min_certification: int
    capacity_multipliers: dict[PerformanceTierName, float]
    radius_narrows: bool = True
    stock_required: bool = False
    capacity_memo: dict[str, tuple[PartnerVec, PartnerStats, str | None]] = field(default_factory=dict)

    def stats_of(self, partner_id: str) -> PartnerStats:
        return self.stats.get(partner_id) or self.default_stats


Filter = Callable[[LeadCtx, PartnerVec, FilterEnv], str | None]


def availability(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    if not p.active:
        return "inactive"
    if p.paused_until is not None and p.paused_until > ctx.now:
        return f"paused until {p.paused_until.isoformat()}"
    if ctx.day in p.holidays:
        return f"on holiday {ctx.day.isoformat()}"
    return None


def history(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    why = ctx.excluded.get(p.id)
    return f"already {why} this lead" if why else None


def radius_hit(ctx: LeadCtx, p: PartnerVec) -> bool:
    lead_lat, lead_lon = ctx.latitude, ctx.longitude
    if lead_lat is None or lead_lon is None:
        return False
    for lat, lon, km in p.radii:
        # A degree of latitude is >= 110.5 km everywhere, so a larger north-south gap is a sure miss
        # and saves the trigonometry for most far-away partners.
        if abs(lead_lat - lat) * 110.5 > km:
            continue
        if haversine_km(lead_lat, lead_lon, lat, lon) <= km:
            return True
    return False


def postal_hit(code: str, p: PartnerVec) -> bool:
    if not code:
        return False
    if any(code.startswith(prefix) for prefix in p.prefixes):
        return True
    for start, end in p.ranges:
        head = code[: len(start)]
        if len(head) == len(start) and start <= head <= end:
            return True
    return False


def territory(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    in_area = ctx.country in p.countries and (not p.has_postal_restriction or postal_hit(ctx.postal, p))
    if not p.radii:
        return None if in_area else _area_miss(ctx, p)
    if not p.countries:
        return None if radius_hit(ctx, p) else "outside its radius"
    if not env.radius_narrows:
        return None if in_area or radius_hit(ctx, p) else _area_miss(ctx, p)
    if not in_area:
        return _area_miss(ctx, p)
    if ctx.latitude is None or radius_hit(ctx, p):
        return None
    return "inside its area but outside its radius"


def _area_miss(ctx: LeadCtx, p: PartnerVec) -> str:
    if ctx.country not in p.countries:
        return f"country {ctx.country or '(none)'} not in territory"
    return f"postal code {ctx.postal or '(none)'} outside territory"


def consent_scope(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    """The lead's consent scope must cover the partner (``core/privacy/consent.py``)."""
    if not ctx.consent:
        return "lead has not consented to sharing with partners"
    scope = ctx.consent_scope
    if scope is None or scope.share == "any" or (p.facts is not None and scope.allows(p.facts)):
        return None
    return f"lead's consent covers {scope.describe()} only"


def product_line(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    if not ctx.product_set:
        return None
    if env.require_all_products:
        missing = ctx.product_set - p.products
        if missing:
            return f"does not carry {', '.join(sorted(missing))}"
    elif p.products.isdisjoint(ctx.product_set):
        return "carries none of the lead's products"
    if env.stock_required:
        return _stock_miss(ctx, p, all_lines=env.require_all_products)
    return None


def _stock_miss(ctx: LeadCtx, p: PartnerVec, *, all_lines: bool) -> str | None:
    if all_lines:
        missing = ctx.product_set - p.stock
        return f"does not have {', '.join(sorted(missing))} in stock" if missing else None
    return None if not p.stock.isdisjoint(ctx.product_set) else "has none of the lead's products in stock"


def certification(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    minimum = env.min_certification
    if minimum <= 0:
        return None
    for product in ctx.products:
        # only lines it would sell: with ``require: any`` a partner need not carry every line
        if product in p.products and p.cert_levels.get(product, 0) < minimum:
            return f"certification {product} level {p.cert_levels.get(product, 0)} < {minimum}"
    return None


def segment(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    if ctx.segment is None or not p.segments or ctx.segment in p.segments:
        return None
    return f"does not serve segment {ctx.segment}"


def language(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    if ctx.language is None or ctx.language in p.languages:
        return None
    return f"does not speak {ctx.language}"


def capacity(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    if not p.caps:
        return None
    s = env.stats.get(p.id) or env.default_stats
    # the answer depends only on the partner and its (immutable) stats: memoise it per pair
    cached = env.capacity_memo.get(p.id)
    if cached is not None and cached[0] is p and cached[1] is s:
        return cached[2]
    mult = env.capacity_multipliers.get(s.tier, 1.0)
    detail = None
    for label, counter, cap in p.caps:
        limit = math.floor(cap * mult)
        used: int = getattr(s, counter)
        if used >= limit:
            detail = f"{label} {used}/{limit}"
            break
    env.capacity_memo[p.id] = (p, s, detail)
    return detail


def account_owner(ctx: LeadCtx, p: PartnerVec, env: FilterEnv) -> str | None:
    if ctx.account_owners and p.id not in ctx.account_owners:
        return f"account {ctx.account_id} is owned by {', '.join(sorted(ctx.account_owners))}"
    return None


FILTERS: dict[str, Filter] = {
    "availability": availability,
    "history": history,
    "territory": territory,
    "consent": consent_scope,
    "product_line": product_line,
    "certification": certification,
    "segment": segment,
    "language": language,
    "capacity": capacity,
    "account_owner": account_owner,
}


# For a given lead, some filters cannot exclude anyone (no history, no segment, no language …).
# The fast path drops them before looping over candidates; each predicate says "cannot fail".
CANNOT_FAIL: dict[str, Callable[[LeadCtx, FilterEnv], bool]] = {
    "consent": lambda ctx, env: (
        ctx.consent and (ctx.consent_scope is None or ctx.consent_scope.share == "any")
    ),
    "history": lambda ctx, env: not ctx.excluded,
    "segment": lambda ctx, env: ctx.segment is None,
    "language": lambda ctx, env: ctx.language is None,
    "product_line": lambda ctx, env: not ctx.product_set,
    "certification": lambda ctx, env: env.min_certification <= 0 or not ctx.products,
    "account_owner": lambda ctx, env: not ctx.account_owners,
}


def relevant_filters(
    filters: list[tuple[str, Filter]], ctx: LeadCtx, env: FilterEnv, *, product_cut: bool
) -> list[Filter]:
    """The filters that can still exclude someone for this lead; ``product_cut``: the index only
    returned partners carrying the lead's first product line (so one line needs no check)."""
    kept = []
    for name, check in filters:
        if name == "product_line" and product_cut and len(ctx.product_set) == 1 and not env.stock_required:
            continue
        if name in CANNOT_FAIL and CANNOT_FAIL[name](ctx, env):
            continue
        kept.append(check)
    return kept


def enabled_filters(policy: Policy) -> list[tuple[str, Filter]]:
    """The filters the policy switches on, in checking order."""
    switches = policy.filters
    return [(name, fn) for name, fn in FILTERS.items() if getattr(switches, name).enabled]


def first_failure(
    filters: list[tuple[str, Filter]], ctx: LeadCtx, p: PartnerVec, env: FilterEnv
) -> tuple[str, str] | None:
    """The first filter ``p`` fails for this lead, as ``(filter, detail)``; ``None`` if it passes."""
    for name, fn in filters:
        detail = fn(ctx, p, env)
        if detail is not None:
            return name, detail
    return None
