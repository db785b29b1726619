"""Policy simulation: replay past leads under the current and a new policy, before going live.

Rules:
- Leads are replayed in the order given (oldest first), each as a fresh first round, with the
  same seeded rng per lead (``seed:lead id``) under both policies, so only the policy differs.
- Each policy is replayed by ``route_batch``: its own running copy of the partner stats, every
  offer it makes counting toward that partner's load, caps and round-robin state for the leads
  after it.
- A lead's partner is the decision's first pick (the best, or the round robin's pick).
- Expected conversions: with a ``ConversionModel`` (``core/outcomes.py``, fitted on the stored
  offers and outcomes — what the CLI passes), the sum of ``model.expected(partner, km)`` over leads
  routed to a partner, the same yardstick for both policies; without one, the sum of the chosen
  partner's smoothed acceptance × win rate from the stats at the start.
- ``actual`` shares come from the leads' accepted offers, when their history is given.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadbridge.core.matching.batch import route_batch
from leadbridge.core.matching.decision import Channel
from leadbridge.core.matching.index import PartnerIndex
from leadbridge.core.matching.match import build_index
from leadbridge.core.model import Lead, Offer, OfferStatus
from leadbridge.core.outcomes import ConversionModel
from leadbridge.core.partner import Partner
from leadbridge.core.performance import PartnerStats, stats_for
from leadbridge.core.policy import Policy


@dataclass
class Outcome:
    """What one policy did with the replayed leads."""

    picks: dict[str, str | None] = field(default_factory=dict)
    direct_sales: int = 0
    no_partner: int = 0
    expected_conversions: float = 0.0

    def counts(self) -> Counter[str]:
        return Counter(pid for pid in self.picks.values() if pid)

    def shares(self) -> dict[str, float]:
        counts = self.counts()
        total = sum(counts.values())
        return {pid: n / total for pid, n in sorted(counts.items())} if total else {}


@dataclass
class SimulationReport:
    leads: int
    old: Outcome
    new: Outcome
    actual: dict[str, int]
    changed: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        partners = sorted(set(self.old.counts()) | set(self.new.counts()) | set(self.actual))
        old_shares, new_shares = self.old.shares(), self.new.shares()
        return {
            "leads": self.leads,
            "partners": [
                {
                    "partner_id": pid,
                    "actual": self.actual.get(pid, 0),
                    "before": self.old.counts().get(pid, 0),
                    "after": self.new.counts().get(pid, 0),
                    "share_before": round(old_shares.get(pid, 0.0), 4),
                    "share_after": round(new_shares.get(pid, 0.0), 4),
                }
                for pid in partners
            ],
            "no_eligible_partner": {"before": self.old.no_partner, "after": self.new.no_partner},
            "direct_sales": {"before": self.old.direct_sales, "after": self.new.direct_sales},
            "changed_partner": len(self.changed),
            "changes": self.changed,
            "expected_conversions": {
                "before": round(self.old.expected_conversions, 2),
                "after": round(self.new.expected_conversions, 2),
            },
        }


def replay(
    leads: Sequence[Lead],
    index: PartnerIndex,
    policy: Policy,
    stats: Mapping[str, PartnerStats],
    now: datetime,
    seed: int,
    model: ConversionModel | None = None,
) -> Outcome:
    """One policy's outcome over ``leads`` (``route_batch`` with the seed; module rules)."""
    batch = route_batch(leads, index, policy, stats, now=now, seed=seed)
    outcome = Outcome()
    for decision in batch.decisions:
        pick = decision.best if decision.channel is Channel.PARTNER else None
        outcome.picks[decision.lead_id] = pick
        if decision.channel is Channel.DIRECT_SALES:
            outcome.direct_sales += 1
        elif pick is None:
            outcome.no_partner += 1
        elif model is not None:
            chosen = decision.candidate(pick)
            outcome.expected_conversions += model.expected(pick, chosen.distance_km if chosen else None)
        else:
            start = stats_for(stats, pick, policy.performance)
            outcome.expected_conversions += start.acceptance_rate * start.win_rate
    return outcome


def simulate(
    leads: Sequence[Lead],
    partners: Sequence[Partner],
    old_policy: Policy,
    new_policy: Policy,
    stats: Mapping[str, PartnerStats],
    *,
    now: datetime,
    seed: int = 0,
    history: Mapping[str, Sequence[Offer]] | None = None,
    model: ConversionModel | None = None,
) -> SimulationReport:
    """Replay ``leads`` under both policies and compare (see the module rules)."""
    old = replay(leads, build_index(partners, old_policy, now), old_policy, stats, now, seed, model)
    new = replay(leads, build_index(partners, new_policy, now), new_policy, stats, now, seed, model)
    actual: Counter[str] = Counter()
    for offers in (history or {}).values():
        for offer in offers:
            if offer.status in (OfferStatus.ACCEPTED, OfferStatus.RETURNED):
                actual[offer.partner_id] += 1
    changed = [
        {"lead_id": lead.id, "before": old.picks[lead.id], "after": new.picks[lead.id]}
        for lead in leads
        if old.picks[lead.id] != new.picks[lead.id]
    ]
    return SimulationReport(leads=len(leads), old=old, new=new, actual=dict(actual), changed=changed)
