"""Policy simulation: replay past leads under the current and a new policy, before going live.

Rules:
- Leads are replayed in the order given (oldest first), each as a fresh first round, with the
  same seeded rng per lead (``seed:lead id``) under both policies, so only the policy differs.
- Each policy keeps its own running copy of the partner stats: every lead it gives a partner
  counts toward that partner's load, caps and round-robin state for the leads after it.
- A lead's partner is the decision's first pick (the best, or the round robin's pick).
- Expected conversions: the sum, over leads routed to a partner, of that partner's smoothed
  acceptance rate × win rate from the stats at the start.
- ``actual`` shares come from the leads' accepted offers, when their history is given.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadbridge.core.matching.decision import Channel
from leadbridge.core.matching.match import build_index, match
from leadbridge.core.model import Lead, Offer, OfferStatus
from leadbridge.core.partner import Partner
from leadbridge.core.performance import PartnerStats, prior_stats, stats_for
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


def _replay(
    leads: Sequence[Lead],
    partners: Sequence[Partner],
    policy: Policy,
    stats: Mapping[str, PartnerStats],
    now: datetime,
    seed: int,
) -> Outcome:
    index = build_index(partners, policy, now)
    running: dict[str, PartnerStats] = dict(stats)
    outcome = Outcome()
    for lead in leads:
        decision = match(lead, index, policy, running, now=now, rng=random.Random(f"{seed}:{lead.id}"))
        pick = decision.best
        outcome.picks[lead.id] = pick
        if decision.channel is Channel.DIRECT_SALES:
            outcome.direct_sales += 1
        elif pick is None:
            outcome.no_partner += 1
        else:
            start = stats_for(stats, pick, policy.performance)
            outcome.expected_conversions += start.acceptance_rate * start.win_rate
            current = running.get(pick) or prior_stats(pick, policy.performance)
            running[pick] = current.with_assignment()
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
) -> SimulationReport:
    """Replay ``leads`` under both policies and compare (see the module rules)."""
    old = _replay(leads, partners, old_policy, stats, now, seed)
    new = _replay(leads, partners, new_policy, stats, now, seed)
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
