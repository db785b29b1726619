"""The one retry policy for every call leadbridge makes to an external system, and the one backoff
formula the outbox uses to schedule a failed row.

Rules:
- only ``RetriableError`` is retried (5xx, 429, ``UNABLE_TO_LOCK_ROW``, dropped connections — the
  connectors' error tables decide which failures those are); a 4xx that will fail again, a fatal
  configuration error, a skipped record or an exhausted quota is raised at once;
- the wait before try ``n + 1`` is the server's ``Retry-After`` when it named one (never shortened,
  never capped), else exponential with full jitter: ``uniform(0, min(cap, base * 2**(n-1)))``. A
  small spread (``uniform(0, base)``) is added on top of a Retry-After so that the clients told
  the same instant do not all come back at it;
- jitter is real: the default ``rng`` draws from the operating system (per process, and safe
  across ``fork``); tests inject a seeded ``random.Random``;
- tries are bounded (``max_attempts``) and so is the total time (``max_seconds``), measured on the
  injected ``clock``, so a test with a no-op ``sleep`` and a fake clock still stops. When the next
  wait would end past the budget the last error is raised instead of sleeping; its ``retry_after``
  survives, so a long Retry-After moves to the outbox row's ``next_attempt_at`` rather than
  holding a worker;
- no nesting: a call made inside another call's policy (a login inside a query, a connector call
  inside a retried step) runs once, and the outermost policy owns the retries — nested policies
  multiply (5 × 5 tries) and each restarts its own time budget;
- every backoff is logged with the attempt, the wait and the reason.

This module imports no HTTP library (import-linter keeps ``core`` free of vendors): connectors
read the ``Retry-After`` header and pass its text to ``parse_retry_after``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt, stop_any
from tenacity.stop import stop_base

from leadbridge.core.errors import RetriableError

log = logging.getLogger("leadbridge.retry")

T = TypeVar("T")

# True while a policy runs a call in this context (thread or task): an inner policy then steps aside.
_inside: ContextVar[bool] = ContextVar("leadbridge_retry_inside", default=False)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait per a ``Retry-After`` header (RFC 9110 §10.2.3): ``delay-seconds`` or an
    ``HTTP-date`` (relative to ``now``, default the wall clock). A date in the past is 0; a value
    that is neither is ``None`` (ignored, the policy's own backoff applies)."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        seconds = float(text)  # not RFC 9110, but some servers send "1.5"
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is not a delay
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:  # RFC 9110 dates are GMT; parsedate gives naive for "-0000"
        moment = moment.replace(tzinfo=UTC)
    return max((moment - (now or datetime.now(UTC))).total_seconds(), 0.0)


def retry_after_of(error: BaseException | None) -> float | None:
    """The ``Retry-After`` (seconds) an error carries, if any."""
    value = getattr(error, "retry_after", None)
    return None if value is None else max(float(value), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with jitter that honours Retry-After (module rules)."""

    max_attempts: int = 5
    max_seconds: float = 60.0
    base: float = 0.5
    cap: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.SystemRandom)
    clock: Callable[[], float] = time.monotonic

    def wait_for(self, attempt: int, error: BaseException | None = None) -> float:
        """Seconds to wait after try ``attempt`` (1-based) failed with ``error`` (module rules)."""
        retry_after = retry_after_of(error)
        if retry_after is not None:
            return retry_after + self.rng.uniform(0, self.base)
        return self.rng.uniform(0, min(self.cap, self.base * 2 ** max(attempt - 1, 0)))

    def call(self, fn: Callable[[], T], *, what: str = "call") -> T:
        """Run ``fn`` under the policy; returns its result or raises its last error unchanged."""
        if _inside.get():
            return fn()  # an outer policy owns the retries (module rules)
        started = self.clock()
        policy = self

        class OverBudget(stop_base):
            """Stop when the upcoming wait would end past the budget (on the injected clock)."""

            def __call__(self, state: RetryCallState) -> bool:
                late = policy.clock() - started + state.upcoming_sleep > policy.max_seconds
                if late:
                    error = state.outcome.exception() if state.outcome else None
                    log.warning(
                        "%s failed (try %d): %s; the next wait (%.1f s) would pass the %.0f s budget",
                        what,
                        state.attempt_number,
                        error,
                        state.upcoming_sleep,
                        policy.max_seconds,
                    )
                return late

        def wait(state: RetryCallState) -> float:
            return self.wait_for(state.attempt_number, state.outcome.exception() if state.outcome else None)

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
            stop=stop_any(stop_after_attempt(self.max_attempts), OverBudget()),
            wait=wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,  # callers see the RetriableError (with its retry_after), not RetryError
        )
        token = _inside.set(True)
        try:
            return retrying(fn)
        finally:
            _inside.reset(token)


def inside_policy() -> bool:
    """True while running inside some policy's call (an inner call is then tried once)."""
    return _inside.get()
