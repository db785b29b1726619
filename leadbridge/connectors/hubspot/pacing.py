"""Client-side pacing of HubSpot's CRM search: at most ``per_second`` searches in any rolling second.

Search has its own bucket (5 requests/s per portal, crm-api-notes §6.2) and its answers carry no
rate-limit headers, so a client cannot see the bucket fill up; it can only stay under it. Waiting
here costs a fraction of a second; a 429 costs a round trip and, on some portals, counts against
the 5 % error budget. The clock and sleep are injected so tests run on simulated time.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class Pacer:
    """A sliding-window limiter: ``wait()`` returns once another call fits in the window."""

    def __init__(
        self,
        per_second: float = 5,
        *,
        window: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.per_second = per_second
        self.window = window
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0  # seconds spent waiting, for reports and tests
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until a call may go out, then count it."""
        with self._lock:
            while True:
                now = self.clock()
                while self._sent and self._sent[0] <= now - self.window:
                    self._sent.popleft()
                if len(self._sent) < self.per_second:
                    self._sent.append(now)
                    return
                pause = self._sent[0] + self.window - now + 0.001
                self.waited += pause
                self.sleep(pause)

    def settle(self) -> None:
        """Count the last call from when its answer arrived, not from when it left: HubSpot counts
        it on arrival, and a call that left early but arrived late would otherwise let the next one
        in while the portal still sees five within its second."""
        with self._lock:
            if self._sent:
                self._sent[-1] = max(self._sent[-1], self.clock())
