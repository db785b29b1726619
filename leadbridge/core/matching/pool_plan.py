"""The pull side's planning, pure: pool windows and the groups a hybrid pool widens through.

Rules:
- a pool listing (an offer in mode ``pool`` or ``hybrid``) is open for ``distribution.pool_hours``
  of wall-clock time from the moment it was listed or last widened — its *window*;
- ``hybrid`` splits the decision's chosen partners (eligible by the matcher, best first) into the
  policy's ``distribution.pool.groups`` in order: each group takes the remaining partners passing
  all its conditions (``tiers``, ``within_km`` of the lead, then the ``top`` N of those); a partner
  belongs to the first group it fits. Stage k lists the lead in the pools of groups 1..k;
- when a window passes without a claim, ``next_stage`` names the next group with someone new in
  it — partners inactive or paused since the decision left out — (the lead's listings stay and all
  get a new window); with none left, the pool closes and the mode planner (``modes.on_refusal``)
  applies the fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from leadbridge.core.matching.decision import Decision
from leadbridge.core.model import Offer
from leadbridge.core.partner import Partner
from leadbridge.core.policy import POOL_MODES, Mode, Policy, PoolGroup


def pool_window_end(now: datetime, policy: Policy) -> datetime:
    """When a pool window opened at ``now`` closes."""
    return now + timedelta(hours=policy.distribution.pool_hours)


def _fits(group: PoolGroup, partner_id: str, decision: Decision, partners: Mapping[str, Partner]) -> bool:
    partner = partners.get(partner_id)
    if group.tiers and (partner is None or partner.tier.value not in group.tiers):
        return False
    if group.within_km is not None:
        candidate = decision.candidate(partner_id)
        distance = candidate.distance_km if candidate else None
        return distance is not None and distance <= group.within_km
    return True


def hybrid_groups(decision: Decision, partners: Mapping[str, Partner], policy: Policy) -> list[list[str]]:
    """The decision's chosen partners split into the policy's groups, in order (may be empty)."""
    remaining = list(decision.chosen)
    groups: list[list[str]] = []
    for group in policy.distribution.pool.groups:
        members = [pid for pid in remaining if _fits(group, pid, decision, partners)]
        if group.top is not None:
            members = members[: group.top]
        taken = set(members)
        remaining = [pid for pid in remaining if pid not in taken]
        groups.append(members)
    return groups


def first_group(decision: Decision, partners: Mapping[str, Partner], policy: Policy) -> tuple[int, list[str]]:
    """The first stage with someone in it and its partners; ``(0, [])`` when every group is empty."""
    for stage, members in enumerate(hybrid_groups(decision, partners, policy), start=1):
        if members:
            return stage, members
    return 0, []


def pool_stage(offers: Sequence[Offer]) -> int:
    """The stage the lead's pool has reached (1 for a plain pool)."""
    stages = [
        int((o.decision or {}).get("preview", {}).get("stage") or 1) for o in offers if o.mode in POOL_MODES
    ]
    return max(stages, default=1)


def next_stage(
    decision: Decision,
    offers: Sequence[Offer],
    partners: Mapping[str, Partner],
    policy: Policy,
    *,
    now: datetime | None = None,
) -> tuple[int, list[str]] | None:
    """The next hybrid stage with partners not yet listed, or ``None`` (the pool closes). With
    ``now``, partners gone or paused since the decision (inactive, paused, on holiday) are left out."""
    if Mode(decision.mode) is not Mode.HYBRID:
        return None
    listed = {o.partner_id for o in offers}
    groups = hybrid_groups(decision, partners, policy)

    def available(pid: str) -> bool:
        partner = partners.get(pid)
        return now is None or (partner is not None and not partner.is_paused(now))

    for stage in range(pool_stage(offers) + 1, len(groups) + 1):
        new = [pid for pid in groups[stage - 1] if pid not in listed and available(pid)]
        if new:
            return stage, new
    return None
