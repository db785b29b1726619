"""Durations (hours) kept as buckets, so medians and percentiles can be pre-aggregated.

Rules:
- a duration falls in the bucket ``ceil(log_γ(hours))`` with ``γ = (1 + ALPHA) / (1 − ALPHA)``;
  the bucket stands for ``2γ^i / (γ + 1)``, which is within ``ALPHA`` (0.5 %) of every duration in
  it (the relative-error sketch of DDSketch); durations under ``FLOOR`` (about 4 s) count as 0;
- a percentile is read from the buckets as from the durations themselves (linear interpolation
  between closest ranks), each rank standing for its bucket's value: it is within ``ALPHA`` of the
  exact percentile.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

ALPHA = 0.005
GAMMA = (1 + ALPHA) / (1 - ALPHA)
FLOOR = 0.001
ZERO = "z"


def bucket_of(hours: float) -> str:
    """The bucket code of a duration (module rules)."""
    if hours < FLOOR:
        return ZERO
    return str(math.ceil(math.log(hours) / math.log(GAMMA)))


def value_of(code: str) -> float:
    """The duration a bucket stands for."""
    if code == ZERO:
        return 0.0
    return 2 * GAMMA ** int(code) / (GAMMA + 1)


def percentile_of(buckets: Mapping[str, int], share: float) -> float | None:
    """The ``share`` percentile of the durations counted in ``buckets`` (None when empty)."""
    ordered = sorted(((value_of(code), n) for code, n in buckets.items() if n > 0))
    total = sum(n for _, n in ordered)
    if not total:
        return None
    position = (total - 1) * share
    low = int(position)

    def at(rank: int) -> float:
        seen = 0
        for value, n in ordered:
            seen += n
            if rank < seen:
                return value
        return ordered[-1][0]

    low_value, high_value = at(low), at(min(low + 1, total - 1))
    return low_value + (high_value - low_value) * (position - low)
