"""HubSpot's request limits for one portal (crm-api-notes §6.2).

* a **ten-second rolling window** (default 190 requests, Professional) → 429 ``TEN_SECONDLY_ROLLING``;
* a **daily** allowance (default 625,000; the core ``faults.Quota``, reset at UTC midnight) → 429
  ``DAILY``;
* **search** has its own bucket of 5 requests per rolling second → 429 "secondly limit"; it counts
  towards the daily allowance but not the ten-second window, and its answers carry no
  ``X-HubSpot-RateLimit-*`` headers.

Refused requests are not counted against the limits (the counters still see them).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from leadbridge.sandbox.faults import Quota

WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class Verdict:
    """``policy`` is None when the request may proceed; ``headers`` go on the answer either way."""

    policy: str | None
    headers: list[tuple[str, str]]


class RateLimits:
    """The three buckets of one portal; thread-safe; time injectable for tests."""

    def __init__(
        self,
        quota: Quota,
        *,
        ten_secondly: int = 190,
        search_per_second: int = 5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.quota = quota
        self.ten_secondly = ten_secondly
        self.search_per_second = search_per_second
        # HubSpot does not promise Retry-After on a 429 (crm-api-notes §6.2): off unless set.
        self.retry_after: int | str | None = None
        self._monotonic = monotonic
        self._window: deque[float] = deque()
        self._search: deque[float] = deque()
        self._lock = threading.Lock()

    def configure(
        self,
        *,
        ten_secondly: int | None = None,
        search_per_second: int | None = None,
        daily: int | None = None,
        daily_used: int | None = None,
        retry_after: int | str | None = None,
    ) -> None:
        """Change limits at runtime (e.g. a tiny daily limit to test quota exhaustion).

        ``retry_after`` adds a ``Retry-After`` header to every 429 from then on: seconds, or a
        string sent as is (an HTTP-date, as RFC 9110 allows).
        """
        with self._lock:
            if retry_after is not None:
                self.retry_after = retry_after
            if ten_secondly is not None:
                self.ten_secondly = ten_secondly
            if search_per_second is not None:
                self.search_per_second = search_per_second
        if daily is not None or daily_used is not None:
            self.quota.set(daily if daily is not None else self.quota.limit, daily_used)

    def reset_windows(self) -> None:
        """Forget recent requests (the windows start empty again)."""
        with self._lock:
            self._window.clear()
            self._search.clear()

    def admit(self, *, search: bool) -> Verdict:
        """Count one request if every bucket has room; otherwise name the policy that refused it."""
        now = self._monotonic()
        with self._lock:
            _expire(self._window, now - WINDOW_SECONDS)
            _expire(self._search, now - 1.0)
            if search:
                policy = "SECONDLY" if len(self._search) >= self.search_per_second else None
            else:
                policy = "TEN_SECONDLY_ROLLING" if len(self._window) >= self.ten_secondly else None
            if policy is None and not self.quota.consume():
                policy = "DAILY"
            if policy is None:
                (self._search if search else self._window).append(now)
            headers = [] if search else self._headers()
        return Verdict(policy, headers)

    def _headers(self) -> list[tuple[str, str]]:
        remaining = max(0, self.ten_secondly - len(self._window))
        headers = [
            ("X-HubSpot-RateLimit-Interval-Milliseconds", str(int(WINDOW_SECONDS * 1000))),
            ("X-HubSpot-RateLimit-Max", str(self.ten_secondly)),
            ("X-HubSpot-RateLimit-Remaining", str(remaining)),
            ("X-HubSpot-RateLimit-Secondly", str(self.ten_secondly // 10)),
            ("X-HubSpot-RateLimit-Secondly-Remaining", str(min(remaining, self.ten_secondly // 10))),
        ]
        if self.quota.limit is not None:
            headers += [
                ("X-HubSpot-RateLimit-Daily", str(self.quota.limit)),
                ("X-HubSpot-RateLimit-Daily-Remaining", str(self.quota.remaining)),
            ]
        return headers


def _expire(stamps: deque[float], before: float) -> None:
    while stamps and stamps[0] <= before:
        stamps.popleft()
