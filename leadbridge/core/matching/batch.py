"""``route_batch``: decide a batch of leads in memory with running caps and load — pure.

Rules:
- leads are decided in the order given, each by ``match`` against the same index, policy and clock;
- the partners a decision offers the lead to (``offered``: the pick of ``assign``, ``round_robin``
  and ``cascade``, every chosen partner of ``offer_n`` and ``shark_tank`` — the push offers
  ``plan_round`` creates; pool listings use no capacity until claimed) count at once toward
  their caps, load and round-robin state for the leads after it (``with_assignment``: a pending
  offer, one more lead today, this week and month) — what the database will hold once the
  router has stored the offers;
- randomness: with ``seed``, each lead gets ``random.Random(f"{seed}:{lead id}")`` (so two policies
  replayed with one seed differ only by policy); otherwise the ``rng`` given is shared in order;
- the stats given are never changed; the result carries the running stats after the batch (a
  ``StatsTable`` when a ``StatsTable`` was given).
The router (one lead at a time, its pass's stats carried from lead to lead), the simulator and
``leadbridge tune`` all decide through this function.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from leadbridge.core.matching.decision import Channel, Decision
from leadbridge.core.matching.index import PartnerIndex
from leadbridge.core.matching.match import History, match
from leadbridge.core.model import Lead
from leadbridge.core.performance import PartnerStats, RunningStats, StatsTable, prior_of
from leadbridge.core.policy import POOL_MODES, Mode, Policy

# Push modes whose every chosen partner gets an offer at once; the others offer one at a time.
_ALL_AT_ONCE = (Mode.OFFER_N.value, Mode.SHARK_TANK.value)


def offered(decision: Decision) -> list[str]:
    """The partners whose caps a decision's first step uses: its push offers (``plan_round``);
    pool listings use no capacity until claimed (``compute_stats`` does not count them)."""
    if decision.channel is not Channel.PARTNER or not decision.chosen or decision.mode in POOL_MODES:
        return []
    return list(decision.chosen) if decision.mode in _ALL_AT_ONCE else decision.chosen[:1]


@dataclass
class Batch:
    """The decisions in lead order and the running stats after the last one."""

    decisions: list[Decision] = field(default_factory=list)
    stats: Mapping[str, PartnerStats] = field(default_factory=dict)

    def picks(self) -> dict[str, str | None]:
        """Lead id → the partner it went to first (None: direct sales or no partner)."""
        return {d.lead_id: d.best if d.channel is Channel.PARTNER else None for d in self.decisions}


def count_offers(
    stats: Mapping[str, PartnerStats], partner_ids: Sequence[str], policy: Policy
) -> Mapping[str, PartnerStats]:
    """``stats`` after offers to ``partner_ids`` outside a batch (a cascade's next offer), by the
    same rule as ``route_batch`` (a ``StatsTable`` stays one)."""
    if not partner_ids:
        return stats
    changed = RunningStats(stats)
    for partner_id in partner_ids:
        current = changed.get(partner_id) or prior_of(stats, policy.performance, partner_id)
        changed[partner_id] = current.with_assignment()
    return StatsTable(changed, prior=changed.prior) if isinstance(stats, StatsTable) else changed


def route_batch(
    leads: Sequence[Lead],
    index: PartnerIndex,
    policy: Policy,
    stats: Mapping[str, PartnerStats],
    *,
    now: datetime,
    rng: random.Random | None = None,
    seed: int | str | None = None,
    histories: Mapping[str, History] | None = None,
    explain: bool = False,
) -> Batch:
    """Decide ``leads`` in order with running caps and load (see the module rules)."""
    if rng is None and seed is None:
        raise ValueError("route_batch needs an rng or a seed (randomness is injected)")
    running: Mapping[str, PartnerStats] = stats
    changed: RunningStats | None = None  # copied on the first assignment only
    batch = Batch()
    for lead in leads:
        lead_rng = random.Random(f"{seed}:{lead.id}") if seed is not None else rng
        assert lead_rng is not None
        decision = match(
            lead,
            index,
            policy,
            running,
            now=now,
            rng=lead_rng,
            history=(histories or {}).get(lead.id),
            explain=explain,
        )
        batch.decisions.append(decision)
        for partner_id in offered(decision):
            if changed is None:
                changed = RunningStats(running)
                running = changed
            current = changed.get(partner_id) or prior_of(stats, policy.performance, partner_id)
            changed[partner_id] = current.with_assignment()
    if changed is not None and isinstance(stats, StatsTable):
        running = StatsTable(changed, prior=changed.prior)
    batch.stats = running
    return batch
