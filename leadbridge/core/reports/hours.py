"""Durations (hours) kept as mergeable histograms, so medians and percentiles can be pre-aggregated.

Rules:
- a duration falls in the bucket ``ceil(log_γ(hours))`` with ``γ = (1 + ALPHA) / (1 − ALPHA)``;
  the bucket stands for ``2γ^i / (γ + 1)``, which is within ``ALPHA`` (2 %) of every duration in
  it (the relative-error sketch of DDSketch); durations under ``FLOOR`` (about 4 s) count as 0
  (bucket ``ZERO``);
- a histogram (``Hist``) counts durations per bucket; histograms add (and subtract) bucket by
  bucket, so the histogram of two periods is the sum of theirs — what lets them be stored per
  month and year;
- a percentile is read from a histogram as from the durations themselves (linear interpolation
  between closest ranks), each rank standing for its bucket's value: it is within ``ALPHA`` of the
  exact percentile.

Why 2 % and not finer: a stored histogram is a dense run of counts from its lowest to its highest
bucket; at 2 % a span of one minute to a month is 267 buckets, and a report over all time merges
one histogram per partner and year.
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_right
from itertools import accumulate

ALPHA = 0.02
GAMMA = (1 + ALPHA) / (1 - ALPHA)
FLOOR = 0.001
_LOG_GAMMA = math.log(GAMMA)
ZERO = math.ceil(math.log(FLOOR) / _LOG_GAMMA) - 1


def bucket_of(hours: float) -> int:
    """The bucket of a duration (module rules)."""
    if hours < FLOOR:
        return ZERO
    return math.ceil(math.log(hours) / _LOG_GAMMA)


def value_of(bucket: int) -> float:
    """The duration a bucket stands for."""
    if bucket <= ZERO:
        return 0.0
    return 2 * GAMMA**bucket / (GAMMA + 1)


class Hist:
    """Counts per bucket: ``counts[i]`` is bucket ``offset + i`` (module rules)."""

    __slots__ = ("counts", "offset")

    def __init__(self, offset: int = 0, counts: list[int] | None = None) -> None:
        self.offset = offset
        self.counts = counts or []

    def add(self, bucket: int, n: int = 1) -> None:
        if not self.counts:
            self.offset, self.counts = bucket, [n]
            return
        if bucket < self.offset:
            self.counts[:0] = [0] * (self.offset - bucket)
            self.offset = bucket
        index = bucket - self.offset
        if index >= len(self.counts):
            self.counts.extend([0] * (index - len(self.counts) + 1))
        self.counts[index] += n

    def merge(self, other: Hist, sign: int = 1) -> None:
        """Add ``other``'s counts (``sign`` −1: take them away)."""
        if not other.counts:
            return
        if not self.counts:
            self.offset = other.offset
            self.counts = list(other.counts) if sign == 1 else [-n for n in other.counts]
            return
        low = min(self.offset, other.offset)
        high = max(self.offset + len(self.counts), other.offset + len(other.counts))
        if low < self.offset:
            self.counts[:0] = [0] * (self.offset - low)
            self.offset = low
        if len(self.counts) < high - low:
            self.counts.extend([0] * (high - low - len(self.counts)))
        start = other.offset - low
        end = start + len(other.counts)
        mine = self.counts[start:end]
        if sign == 1:
            self.counts[start:end] = [a + b for a, b in zip(mine, other.counts, strict=True)]
        else:
            self.counts[start:end] = [a - b for a, b in zip(mine, other.counts, strict=True)]

    def __bool__(self) -> bool:
        return any(self.counts)

    def items(self) -> dict[int, int]:
        return {self.offset + i: n for i, n in enumerate(self.counts) if n}

    def to_bytes(self) -> bytes | None:
        """The stored form: the offset then the counts, as little-endian 32-bit integers."""
        start, end = 0, len(self.counts)
        while start < end and not self.counts[start]:
            start += 1
        while end > start and not self.counts[end - 1]:
            end -= 1
        if start == end:
            return None
        packed = array("i", [self.offset + start, *self.counts[start:end]])
        if sys.byteorder == "big":
            packed.byteswap()
        return packed.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> Hist:
        if not data:
            return cls()
        packed = array("i")
        packed.frombytes(data)
        if sys.byteorder == "big":
            packed.byteswap()
        return cls(packed[0], packed[1:].tolist())

    def percentile(self, share: float) -> float | None:
        """The ``share`` percentile of the counted durations (None when empty)."""
        ranks = list(accumulate(self.counts))
        total = ranks[-1] if ranks else 0
        if total <= 0:
            return None
        position = (total - 1) * share
        low = int(position)
        low_value = value_of(self.offset + bisect_right(ranks, low))
        high_value = value_of(self.offset + bisect_right(ranks, min(low + 1, total - 1)))
        return low_value + (high_value - low_value) * (position - low)


def percentile_of(buckets: dict[int, int], share: float) -> float | None:
    """The ``share`` percentile of the durations counted in ``buckets`` (None when empty)."""
    hist = Hist()
    for bucket, n in buckets.items():
        hist.add(bucket, n)
    return hist.percentile(share)
