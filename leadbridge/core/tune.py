"""``tune``: search routing parameters for the most expected conversions over past leads — pure.

Rules:
- A candidate differs from the current policy only in the parameters of ``SPACE`` (objective,
  reach radius and half distance, the partner's own radius, the tie-break share, the prior
  strength of the performance history).
- Every candidate replays the same leads with the same seed (``simulate.replay``: ``route_batch``
  with running caps and load) on one partner index, with the stats re-finished under its
  performance settings, and is judged by one ``ConversionModel`` fitted on the history
  (``core/outcomes.py``) — the same yardstick for all.
- Search: coordinate ascent from the current policy — each parameter in turn takes each of its
  values, keeping the best (a tie keeps the current one); up to ``rounds`` passes, stopping when a
  pass changes nothing or ``max_evaluations`` replays are spent.
- Guard rails, whatever scores best: the capacity filter stays on (caps are never exceeded) and so
  does the product filter; the exploration share is never lowered (new partners keep theirs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from leadbridge.core.matching.index import PartnerIndex
from leadbridge.core.model import Lead
from leadbridge.core.outcomes import ConversionModel
from leadbridge.core.performance import PartnerStats, refinish
from leadbridge.core.policy import Policy, policy_hash
from leadbridge.core.simulate import replay

SPACE: tuple[tuple[str, str, tuple[Any, ...]], ...] = (
    ("scoring", "objective", ("expected_conversions", "weighted")),
    ("scoring", "reach_km", (0.0, 10.0, 25.0, 35.0, 50.0, 75.0, 100.0, 150.0, 200.0)),
    ("scoring", "reach_half_km", (10.0, 15.0, 25.0, 35.0, 50.0, 75.0, 100.0, 200.0)),
    ("scoring", "partner_radius", (True, False)),
    ("scoring", "tie_break", (0.0, 0.01, 0.05)),
    ("performance", "prior_strength", (2.0, 5.0, 10.0, 20.0, 50.0)),
)


@dataclass
class TuneReport:
    """The current and the best policy found, with their expected conversions and every trial."""

    leads: int
    current: float
    best: float
    policy: Policy
    changes: dict[str, Any]
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    model: dict[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "leads": self.leads,
            "expected_conversions": {"current": round(self.current, 2), "best": round(self.best, 2)},
            "gain_pct": round(100 * (self.best / self.current - 1), 1) if self.current else None,
            "changes": self.changes,
            "policy_hash": policy_hash(self.policy),
            "policy_yaml": policy_yaml(self.policy),
            "evaluations": len(self.trials),
            "model": self.model,
        }


def with_value(policy: Policy, section: str, key: str, value: Any) -> Policy:
    """``policy`` with ``section.key`` set to ``value`` (validated like a file would be)."""
    data = policy.model_dump(mode="json")
    data[section][key] = value
    return Policy.model_validate(data)


def guarded(candidate: Policy, current: Policy) -> Policy:
    """The guard rails of the module rules applied to ``candidate``."""
    data = candidate.model_dump(mode="json")
    data["filters"]["capacity"]["enabled"] = True
    data["filters"]["product_line"]["enabled"] = True
    share = max(candidate.performance.exploration_share, current.performance.exploration_share)
    data["performance"]["exploration_share"] = share
    return Policy.model_validate(data)


def policy_yaml(policy: Policy) -> str:
    """The policy as YAML, only what differs from the defaults (plus ``version``)."""
    data = policy.model_dump(mode="json", exclude_defaults=True)
    data = {"version": policy.version, **{k: v for k, v in data.items() if k != "version"}}
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def tune(
    leads: Sequence[Lead],
    index: PartnerIndex,
    current: Policy,
    stats: Mapping[str, PartnerStats],
    model: ConversionModel,
    *,
    now: datetime,
    seed: int = 0,
    rounds: int = 2,
    max_evaluations: int = 80,
) -> TuneReport:
    """Search ``SPACE`` from ``current`` (module rules) and report the best policy found."""
    memo: dict[str, float] = {}
    trials: list[tuple[dict[str, Any], float]] = []

    def value(policy: Policy) -> float:
        key = policy_hash(policy)
        if key not in memo:
            refinished = refinish(stats, policy.performance)
            memo[key] = replay(leads, index, policy, refinished, now, seed, model).expected_conversions
            trials.append((_changes(current, policy), memo[key]))
        return memo[key]

    start = guarded(current, current)
    best, best_value = start, value(start)
    current_value = value(current)
    for _ in range(rounds):
        moved = False
        for section, key, options in SPACE:
            for option in options:
                if len(memo) >= max_evaluations:
                    break
                candidate = guarded(with_value(best, section, key, option), current)
                score = value(candidate)
                if score > best_value + 1e-9:
                    best, best_value, moved = candidate, score, True
        if not moved or len(memo) >= max_evaluations:
            break
    return TuneReport(
        leads=len(leads),
        current=current_value,
        best=best_value,
        policy=best,
        changes=_changes(current, best),
        trials=trials,
        model=model.describe(),
    )


def _changes(before: Policy, after: Policy) -> dict[str, Any]:
    """``section.key`` → new value, for every top-level key of a section that differs."""
    old, new = before.model_dump(mode="json"), after.model_dump(mode="json")
    changed: dict[str, Any] = {}
    for section, values in new.items():
        if isinstance(values, dict):
            for key, value in values.items():
                if old.get(section, {}).get(key) != value:
                    changed[f"{section}.{key}"] = value
        elif old.get(section) != values:
            changed[section] = values
    return changed
