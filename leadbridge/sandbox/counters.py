"""Per-endpoint request counters (benchmarks read them to compute API calls per 1,000 leads)."""

from __future__ import annotations

import threading
from collections import Counter


class Counters:
    """Thread-safe counts of requests by endpoint name; every request is counted, failed or not."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def increment(self, endpoint: str, by: int = 1) -> None:
        """Count ``by`` more requests to ``endpoint``."""
        with self._lock:
            self._counts[endpoint] += by

    def snapshot(self) -> dict[str, int]:
        """A copy of the counts, endpoint → requests, sorted by endpoint name."""
        with self._lock:
            return dict(sorted(self._counts.items()))

    def total(self, *, exclude: tuple[str, ...] = ()) -> int:
        """All requests, optionally without some endpoints (e.g. logins)."""
        with self._lock:
            return sum(count for name, count in self._counts.items() if name not in exclude)

    def __getitem__(self, endpoint: str) -> int:
        with self._lock:
            return self._counts[endpoint]

    def reset(self) -> dict[str, int]:
        """Zero every count and return what they were."""
        with self._lock:
            before = dict(sorted(self._counts.items()))
            self._counts.clear()
            return before
