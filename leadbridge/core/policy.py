"""The routing policy: a versioned YAML file validated with pydantic (unknown keys are errors).

One policy says, for every qualified lead: when it goes to direct sales instead of the partner
channel, which hard filters a partner must pass, how the remaining partners are scored, how the
lead is distributed (mode), the SLA timers, how many rounds are tried and what happens after the
last one. Every section has defaults, so ``version: 1`` alone is a working policy.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from leadbridge.core.dedup import Dedup
from leadbridge.core.errors import ConfigError
from leadbridge.core.privacy.config import Privacy
from leadbridge.core.reasons import ReturnAction

POLICY_VERSION = 1


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChannelRules(_Strict):
    """When a lead bypasses partners and goes to the manufacturer's direct sales team."""

    direct_sales_min_revenue: Decimal | None = Field(default=None, ge=0)
    named_accounts: list[str] = Field(default_factory=list)
    direct_if_owner: bool = False

    @field_validator("named_accounts")
    @classmethod
    def _fold(cls, values: list[str]) -> list[str]:
        return [value.strip().casefold() for value in values if value.strip()]


class Switch(_Strict):
    """A filter that is on or off; YAML may say just ``true``/``false``."""

    enabled: bool = True

    @model_validator(mode="before")
    @classmethod
    def _from_bool(cls, data: Any) -> Any:
        return {"enabled": data} if isinstance(data, bool) else data


class ProductFilter(Switch):
    """Product lines: the partner carries ``all`` (or ``any``) of the lead's lines. ``stock``:
    ``require`` — it must also have them in stock (``products_in_stock``, same ``all``/``any``);
    ``prefer`` — stock is a scorer (``stock``); ``ignore`` — stock is not read."""

    require: Literal["all", "any"] = "all"
    stock: Literal["ignore", "prefer", "require"] = "prefer"


class CertificationFilter(Switch):
    """``min_level`` 0 (the default) filters nobody: partners imported without certifications
    still get leads. Set it to require that level for the lead's product lines."""

    min_level: int = Field(default=0, ge=0)


class TerritoryFilter(Switch):
    """``radius``: for a partner with both an area (countries, postal codes) and radii, ``narrow``
    (default) needs the lead inside the area *and* a radius; ``widen`` accepts either."""

    radius: Literal["narrow", "widen"] = "narrow"


class Filters(_Strict):
    """Hard filters, applied in this order; the first a partner fails is reported."""

    availability: Switch = Field(default_factory=Switch)
    history: Switch = Field(default_factory=Switch)
    territory: TerritoryFilter = Field(default_factory=TerritoryFilter)
    consent: Switch = Field(default_factory=Switch)
    product_line: ProductFilter = Field(default_factory=ProductFilter)
    certification: CertificationFilter = Field(default_factory=CertificationFilter)
    segment: Switch = Field(default_factory=Switch)
    language: Switch = Field(default_factory=lambda: Switch(enabled=False))
    capacity: Switch = Field(default_factory=Switch)
    account_owner: Switch = Field(default_factory=Switch)


class Weights(_Strict):
    """Scorer weights: each scorer yields 0..1, its contribution is value × weight."""

    distance: float = Field(default=3.0, ge=0)
    tier: float = Field(default=1.0, ge=0)
    certification: float = Field(default=1.0, ge=0)
    industry: float = Field(default=1.0, ge=0)
    size: float = Field(default=1.0, ge=0)
    win_rate: float = Field(default=2.0, ge=0)
    acceptance: float = Field(default=1.0, ge=0)
    speed: float = Field(default=0.5, ge=0)
    load: float = Field(default=1.0, ge=0)
    stock: float = Field(default=1.0, ge=0)


class Objective(StrEnum):
    """``expected_conversions``: rank by P(accept) × P(win | accepted) × reach, the weighted
    scorers only breaking ties; ``weighted``: rank by the weighted sum of the scorers."""

    EXPECTED_CONVERSIONS = "expected_conversions"
    WEIGHTED = "weighted"


class Scoring(_Strict):
    """How candidates are ranked (see ``Objective`` and ``core/matching/scorers.py``).

    Reach (``expected_conversions``): 1 within the partner's service radius (its largest
    territory radius, when ``partner_radius`` and it has one) or else ``reach_km``; beyond, it
    halves every ``reach_half_km``; ``unknown_reach`` when either location is unknown. The
    weighted scorers add at most ``tie_break`` in total, so they only order near-equal partners.
    """

    objective: Objective = Objective.EXPECTED_CONVERSIONS
    weights: Weights = Field(default_factory=Weights)
    distance_max_km: float = Field(default=300.0, gt=0)
    max_certification_level: int = Field(default=3, ge=1)
    speed_target_hours: float = Field(default=4.0, gt=0)
    load_scale: int = Field(default=10, ge=1)
    reach_km: float = Field(default=50.0, ge=0)
    reach_half_km: float = Field(default=50.0, gt=0)
    partner_radius: bool = True
    unknown_reach: float = Field(default=0.5, ge=0, le=1)
    tie_break: float = Field(default=0.01, ge=0)


class PerformanceTierName(StrEnum):
    HIGH = "high"
    MODERATE = "moderate"
    WEAK = "weak"


class TierRule(_Strict):
    """How a performance tier changes scoring and caps (multipliers; 1.0 = unchanged)."""

    weight_multipliers: dict[str, float] = Field(default_factory=dict)
    capacity_multiplier: float = Field(default=1.0, gt=0)

    @field_validator("weight_multipliers")
    @classmethod
    def _known(cls, values: dict[str, float]) -> dict[str, float]:
        unknown = set(values) - set(Weights.model_fields)
        if unknown:
            raise ValueError(
                f"unknown scorer(s) {sorted(unknown)}; scorers are {', '.join(Weights.model_fields)}"
            )
        return values


class Performance(_Strict):
    """Bayesian priors for past performance and the thresholds of the performance tiers."""

    prior_strength: float = Field(default=10.0, gt=0)
    prior_win_rate: float = Field(default=0.2, ge=0, le=1)
    prior_acceptance_rate: float = Field(default=0.7, ge=0, le=1)
    prior_accept_hours: float = Field(default=8.0, gt=0)
    min_offers_for_tier: int = Field(default=10, ge=0)
    high_min_win_rate: float = Field(default=0.35, ge=0, le=1)
    weak_max_win_rate: float = Field(default=0.1, ge=0, le=1)
    tiers: dict[PerformanceTierName, TierRule] = Field(default_factory=dict)
    # Exploration: this share of leads (chosen by lead id, so replays agree) goes to the best
    # candidate among partners with fewer than ``min_offers_for_tier`` offers, when there is one,
    # so new partners build a record. ``leadbridge tune`` never lowers it.
    exploration_share: float = Field(default=0.05, ge=0, le=1)
    # Smooth toward the pooled rates of all partners once there is enough history (empirical
    # Bayes); false: always toward ``prior_win_rate`` and ``prior_acceptance_rate``.
    prior_from_history: bool = True


class Mode(StrEnum):
    """How a lead reaches partners. Push: assign, offer_n, cascade, round_robin, shark_tank (every
    eligible partner at once, first accept wins). Pull: pool (eligible partners claim or pull it from
    their pool) and hybrid (a pool that widens group by group). ``open_pool`` is read as ``pool``."""

    ASSIGN = "assign"
    OFFER_N = "offer_n"
    CASCADE = "cascade"
    POOL = "pool"
    SHARK_TANK = "shark_tank"
    HYBRID = "hybrid"
    ROUND_ROBIN = "round_robin"
    DIRECT = "direct"

    @classmethod
    def _missing_(cls, value: object) -> Mode | None:
        # Policies and stored decisions from before the pool used ``open_pool`` for it.
        return cls.POOL if value == "open_pool" else None


# Offer modes that are pool listings: claimed by the partner, open for a window, no reminders
# (``open_pool``: offers stored before the pool had its name).
POOL_MODES = frozenset({Mode.POOL.value, Mode.HYBRID.value, "open_pool"})


class PoolClaim(StrEnum):
    """How partners take leads from their pool."""

    CHERRY_PICK = "cherry_pick"  # pick any lead of the pool
    BLIND_PULL = "blind_pull"  # only "give me my next lead": the best for the partner, no choosing
    BOTH = "both"


class PoolGroup(_Strict):
    """One hybrid group: the candidates passing every given condition (none given = everyone left).

    ``top``: the N best-scored candidates; ``tiers``: programme tiers; ``within_km``: partners
    within this distance of the lead (its region)."""

    top: int | None = Field(default=None, ge=1)
    tiers: list[str] = Field(default_factory=list)
    within_km: float | None = Field(default=None, gt=0)


class PoolRules(_Strict):
    """The pull side: claim style, per-partner limits and, for ``hybrid``, the widening groups."""

    claim: PoolClaim = PoolClaim.BOTH
    max_open_claims: int | None = Field(default=None, ge=0)
    claims_per_day: int | None = Field(default=None, ge=0)
    groups: list[PoolGroup] = Field(default_factory=lambda: [PoolGroup(top=3), PoolGroup()])


class Distribution(_Strict):
    mode: Mode = Mode.ASSIGN
    offer_n: int = Field(default=3, ge=1)
    pool_size: int = Field(default=20, ge=1)
    pool_hours: float = Field(default=24.0, gt=0)
    pool: PoolRules = Field(default_factory=PoolRules)
    shark_tank_max: int = Field(default=50, ge=1)
    cascade_length: int = Field(default=5, ge=1)
    tie_margin: float = Field(default=0.25, ge=0)
    auto_accept: bool = False
    round_robin_weights: dict[str, float] = Field(
        default_factory=lambda: {"platinum": 4.0, "gold": 3.0, "silver": 2.0, "registered": 1.0}
    )
    partner_weights: dict[str, float] = Field(default_factory=dict)


Escalation = Literal["expired", "first_contact_overdue", "stalled", "fallback"]
DEFAULT_ESCALATIONS: tuple[Escalation, ...] = ("first_contact_overdue", "stalled", "fallback")


class BreachAction(StrEnum):
    """What a first-contact or stall breach after acceptance leads to."""

    ESCALATE = "escalate"  # tell the channel manager (the lead stays with the partner)
    RECLAIM = "reclaim"  # take the lead back (partner told, its CRM copy closed) and re-route it


class Sla(_Strict):
    """SLA timers; ``accept_hours`` counts the partner's business hours when it has them."""

    accept_hours: float = Field(default=8.0, gt=0)
    reminders_before_hours: list[float] = Field(default_factory=lambda: [2.0])
    first_contact_hours: float = Field(default=24.0, gt=0)
    stall_days: float = Field(default=14.0, gt=0)
    escalate_on: list[Escalation] = Field(default_factory=lambda: list(DEFAULT_ESCALATIONS))
    use_business_hours: bool = True
    on_breach: BreachAction = BreachAction.ESCALATE


class Fallback(StrEnum):
    DIRECT_SALES = "direct_sales"
    NURTURE = "nurture"


class Material(_Strict):
    title: str
    url: str


class Geo(_Strict):
    gazetteer_files: list[str] = Field(default_factory=list)


class Policy(_Strict):
    """The whole routing policy (see the module docstring)."""

    version: int
    name: str = "default"
    channel: ChannelRules = Field(default_factory=ChannelRules)
    filters: Filters = Field(default_factory=Filters)
    scoring: Scoring = Field(default_factory=Scoring)
    performance: Performance = Field(default_factory=Performance)
    distribution: Distribution = Field(default_factory=Distribution)
    sla: Sla = Field(default_factory=Sla)
    max_rounds: int = Field(default=3, ge=1)
    fallback: Fallback = Fallback.DIRECT_SALES
    returns: dict[str, ReturnAction] = Field(default_factory=dict)
    materials: dict[str, list[Material]] = Field(default_factory=dict)
    geo: Geo = Field(default_factory=Geo)
    privacy: Privacy = Field(default_factory=Privacy)
    dedup: Dedup = Field(default_factory=Dedup)

    @field_validator("version")
    @classmethod
    def _supported(cls, value: int) -> int:
        if value != POLICY_VERSION:
            raise ValueError(
                f"policy version {value} is not supported (this leadbridge reads {POLICY_VERSION})"
            )
        return value

    def weight_for(self, scorer: str, tier: PerformanceTierName) -> float:
        """The weight of ``scorer`` for a partner in performance ``tier`` (base × tier multiplier)."""
        base: float = getattr(self.scoring.weights, scorer)
        rule = self.performance.tiers.get(tier)
        return base * rule.weight_multipliers.get(scorer, 1.0) if rule else base

    def capacity_multiplier(self, tier: PerformanceTierName) -> float:
        rule = self.performance.tiers.get(tier)
        return rule.capacity_multiplier if rule else 1.0


def _format_errors(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid routing policy"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def parse_policy(data: Any, source: str = "policy") -> Policy:
    """Validate a policy mapping; raise ``ConfigError`` listing every bad key with its path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: a routing policy must be a YAML mapping with at least `version: 1`")
    try:
        return Policy.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_format_errors(error, source)) from None


def load_policy(path: Path) -> Policy:
    """Read and validate a policy YAML file (relative gazetteer paths are made absolute)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read policy {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    policy = parse_policy(data, str(path))
    files = [str((path.parent / name).resolve()) for name in policy.geo.gazetteer_files]
    return policy.model_copy(update={"geo": Geo(gazetteer_files=files)})


def default_policy() -> Policy:
    return Policy(version=POLICY_VERSION)


def policy_hash(policy: Policy) -> str:
    """The policy's content hash: sha256 of its canonical JSON (defaults filled in), 12 hex digits.
    Two files that mean the same policy hash the same; any change to what routing reads changes it."""
    canonical = json.dumps(policy.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
