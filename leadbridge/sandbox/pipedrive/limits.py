"""Pipedrive's limits as the stand-in applies them: a rolling 2-second burst window per token and a
daily budget per company (counted in requests here: the real token costs per call are unconfirmed).

Every answer carries ``x-ratelimit-limit``, ``x-ratelimit-remaining`` and ``x-ratelimit-reset``
(seconds until the window has room again). A burst over the window is 429 with ``Retry-After``; an
exhausted daily budget is 429 until UTC midnight (``Retry-After`` and ``x-ratelimit-reset`` say how
long, ``x-daily-requests-left: 0``). ``fail_next(n, retry_after)`` makes the next ``n`` calls 429 as
if another app had used the window (tests).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from leadbridge.sandbox.faults import Quota

WINDOW_SECONDS = 2.0


@dataclass(frozen=True)
class Verdict:
    """Admit (``limited is None``) or refuse with ``limited`` = ``"burst"`` / ``"daily"``."""

    limited: str | None
    headers: list[tuple[str, str]] = field(default_factory=list)
    retry_after: int | None = None


class Limits:
    """The burst window and the daily budget of one company (module rules)."""

    def __init__(
        self, quota: Quota, *, burst: int = 80, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.quota, self.burst, self.monotonic = quota, burst, monotonic
        self.retry_after: int | None = 2  # sent with a burst 429 (None: no Retry-After header)
        self._calls: deque[float] = deque()
        self._forced: list[int] = []
        self._lock = threading.Lock()

    def fail_next(self, calls: int = 1, retry_after: int | None = 1) -> None:
        """The next ``calls`` requests get a burst 429 with this ``Retry-After``."""
        with self._lock:
            self._forced += [retry_after if retry_after is not None else -1] * calls

    def admit(self) -> Verdict:
        now = self.monotonic()
        with self._lock:
            while self._calls and self._calls[0] <= now - WINDOW_SECONDS:
                self._calls.popleft()
            if self._forced:
                after = self._forced.pop(0)
                return self._burst(now, after if after >= 0 else None)
            if len(self._calls) >= self.burst:
                return self._burst(now, self.retry_after)
            if not self.quota.consume():
                until = self.quota.seconds_to_reset()
                headers = [*self._headers(now, 0), ("x-daily-requests-left", "0")]
                headers.append(("Retry-After", str(until)))
                return Verdict("daily", headers, until)
            self._calls.append(now)
            return Verdict(None, self._headers(now, self.burst - len(self._calls)))

    def _burst(self, now: float, retry_after: int | None) -> Verdict:
        headers = self._headers(now, 0)
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        return Verdict("burst", headers, retry_after)

    def _headers(self, now: float, remaining: int) -> list[tuple[str, str]]:
        reset = math.ceil(self._calls[0] + WINDOW_SECONDS - now) if self._calls else 0
        return [
            ("x-ratelimit-limit", str(self.burst)),
            ("x-ratelimit-remaining", str(max(remaining, 0))),
            ("x-ratelimit-reset", str(max(reset, 0))),
        ]
