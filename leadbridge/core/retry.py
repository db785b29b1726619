"""The one retry policy for every call leadbridge makes to an external system.

Rules:
- only ``RetriableError`` is retried (5xx, 429, ``UNABLE_TO_LOCK_ROW``, dropped connections — the
  connectors' error tables decide which failures those are); a 4xx that will fail again, a fatal
  configuration error, a skipped record or an exhausted quota is raised at once;
- the wait is exponential with full jitter (``base * 2**(n-1)`` capped at ``cap``), or the
  server's ``Retry-After`` when it names one (never more than ``cap``);
- tries are bounded (``max_attempts``) and so is the total time (``max_seconds``): when the next
  wait would end past the budget the last error is raised instead of sleeping;
- every backoff is logged with the attempt, the wait and the reason;
- ``sleep`` and ``rng`` are injected so tests run instantly and deterministically.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_any
from tenacity.stop import stop_base

from leadbridge.core.errors import RetriableError

log = logging.getLogger("leadbridge.retry")

T = TypeVar("T")


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with jitter that honours Retry-After (module rules)."""

    max_attempts: int = 5
    max_seconds: float = 60.0
    base: float = 0.5
    cap: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    clock: Callable[[], float] = time.monotonic

    def wait_for(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait before try ``attempt + 1`` after ``error``."""
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.cap))
        ceiling = min(self.cap, self.base * 2 ** (attempt - 1))
        return self.rng.uniform(0, ceiling)

    def call(self, fn: Callable[[], T], *, what: str = "call") -> T:
        """Run ``fn`` under the policy; returns its result or raises its last error."""
        started = self.clock()

        planned: dict[int, float] = {}  # the stop check plans each wait once; ``wait`` uses the same

        def plan(state: RetryCallState) -> float:
            if state.attempt_number not in planned:
                error = state.outcome.exception() if state.outcome else None
                planned[state.attempt_number] = self.wait_for(state.attempt_number, error)
            return planned[state.attempt_number]

        def wait(state: RetryCallState) -> float:
            return plan(state)

        policy = self

        class OutOfTime(stop_base):
            def __call__(self, state: RetryCallState) -> bool:
                return policy.clock() - started + plan(state) > policy.max_seconds

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s failed (try %d/%d): %s; backing off %.2f s",
                what,
                state.attempt_number,
                self.max_attempts,
                error,
                state.upcoming_sleep,
            )

        retrying = Retrying(
            retry=retry_if_exception_type(RetriableError),
            stop=stop_any(stop_after_attempt(self.max_attempts), OutOfTime()),
            wait=wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(fn)


def no_wait_policy(max_attempts: int = 5) -> RetryPolicy:
    """A policy that never sleeps (tests, benchmarks against the local sandbox)."""
    return RetryPolicy(max_attempts=max_attempts, sleep=lambda _seconds: None)
