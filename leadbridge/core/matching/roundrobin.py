"""Weighted round robin among equally fit partners.

Rules:
- "Equally fit" means a score within ``distribution.tie_margin`` of the best candidate's, among
  the candidates with a positive weight (a zero weight takes a partner out of the rotation). For
  the expected-conversions objective (scores are probabilities) the margin is relative: within
  ``tie_margin`` × the best score.
- A partner's weight is ``distribution.partner_weights[id]``, else the weight of its programme
  tier in ``distribution.round_robin_weights`` (default platinum 4, gold 3, silver 2, registered 1).
- The state is each partner's count of round-robin leads so far (``PartnerStats.round_robin_count``).
  The next lead goes to the partner with the smallest ``(count + 1) / weight`` — smooth weighted
  round robin, so over many equal leads each partner's share converges to its weight's share.
  Ties go to a partner drawn by the injected rng from the tied ids in sorted order (deterministic
  for a given state and seed). Caps are hard filters, so a capped partner is never a candidate.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from leadbridge.core.matching.decision import Candidate
from leadbridge.core.matching.vectors import PartnerVec
from leadbridge.core.policy import Distribution


def weight_of(vec: PartnerVec, distribution: Distribution) -> float:
    """The partner's round-robin weight (see the module rules); 0 means it never gets one."""
    if vec.id in distribution.partner_weights:
        return distribution.partner_weights[vec.id]
    return distribution.round_robin_weights.get(vec.tier, 1.0)


def equally_fit(candidates: Sequence[Candidate], margin: float) -> list[Candidate]:
    """Candidates scoring within ``margin`` of the best (``candidates`` ranked best first)."""
    if not candidates:
        return []
    floor = candidates[0].score - margin
    return [c for c in candidates if c.score >= floor]


def pick(
    candidates: Sequence[Candidate],
    vecs: dict[str, PartnerVec],
    counts: Callable[[str], int],
    distribution: Distribution,
    rng: random.Random,
    *,
    relative: bool = False,
) -> str | None:
    """The next partner by smooth weighted round robin among the equally fit candidates
    (``relative``: the margin is a share of the best score)."""
    weighted = [(c, weight_of(vecs[c.partner_id], distribution)) for c in candidates]
    rotation = [(c, w) for c, w in weighted if w > 0]
    margin = distribution.tie_margin
    if relative and rotation:
        margin *= max(c.score for c, _ in rotation)
    fit = {c.partner_id for c in equally_fit([c for c, _ in rotation], margin)}
    best: list[str] = []
    best_key = float("inf")
    for candidate, weight in rotation:
        if candidate.partner_id not in fit:
            continue
        key = (counts(candidate.partner_id) + 1) / weight
        if key < best_key - 1e-12:
            best, best_key = [candidate.partner_id], key
        elif abs(key - best_key) <= 1e-12:
            best.append(candidate.partner_id)
    if not best:
        return None
    best.sort()
    return best[0] if len(best) == 1 else rng.choice(best)
