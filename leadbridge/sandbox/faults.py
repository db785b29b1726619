"""Fault injection for one org/portal: errors, latency, dropped connections, session expiry, quota.

Everything is settable at runtime from Python (tests, benchmarks, the demo) and seeded, so a
failure replays: whether the n-th call to an endpoint fails is a pure function of
``(seed, endpoint, n)`` — independent of what other endpoints or threads did in between.

How a stand-in uses it, per request::

    decision = org.faults.decide(endpoint)      # counts the call for that endpoint
    apply_transport_faults(decision)            # sleeps, or raises DropConnection
    if decision.error: return <the service's own error body for decision.error>

Error *kinds* are names the service translates into its wire format. Shared kinds:
``"server_error"`` (a 5xx); services add their own (Salesforce: ``"lock"`` →
``UNABLE_TO_LOCK_ROW``; HubSpot may use e.g. ``"rate_limit"``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta

from leadbridge.sandbox.server import DropConnection

ANY_ENDPOINT = "*"


@dataclass(frozen=True)
class FaultRule:
    """What can go wrong on one endpoint (or on every endpoint, under ``"*"``).

    Rates are probabilities in [0, 1]; ``latency`` is seconds added to every matching call,
    plus a uniform ``jitter`` on top.
    """

    error_rate: float = 0.0
    error: str = "server_error"
    latency: float = 0.0
    jitter: float = 0.0
    drop_rate: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.latency < 0 or self.jitter < 0:
            raise ValueError("latency and jitter must not be negative")


@dataclass(frozen=True)
class FaultDecision:
    """The verdict for one call: wait ``latency`` seconds, then drop, fail with ``error``, or serve."""

    latency: float = 0.0
    drop: bool = False
    error: str | None = None


NO_FAULT = FaultDecision()


def apply_transport_faults(decision: FaultDecision) -> None:
    """Sleep the injected latency, then raise ``DropConnection`` if the call is to be dropped."""
    if decision.latency > 0:
        time.sleep(decision.latency)
    if decision.drop:
        raise DropConnection


class Quota:
    """A daily request allowance (``limit=None`` means unlimited); resets when the UTC date changes.

    ``clock`` tells the time (the wall clock unless a test pins it): a test that exhausts the
    allowance must not see it reset, or be told "retry in 40 s", because it ran at 23:59 UTC."""

    def __init__(self, limit: int | None = None, clock: Callable[[], datetime] | None = None) -> None:
        self.limit = limit
        self.used = 0
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self._day = self.clock().date()
        self._lock = threading.Lock()

    def consume(self, today: date | None = None) -> bool:
        """Count one request; False (and nothing counted) when the allowance is used up."""
        with self._lock:
            today = today or self.clock().date()
            if today != self._day:
                self._day, self.used = today, 0
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True

    def hold_at_noon(self) -> None:
        """Stop the clock at noon UTC of the current day: the allowance then neither resets nor
        announces its reset within seconds (what a test that exhausts it needs)."""
        noon = self.clock().replace(hour=12, minute=0, second=0, microsecond=0)
        self.clock = lambda: noon
        self._day = noon.date()

    def seconds_to_reset(self) -> int:
        """Whole seconds until the allowance resets (the next UTC midnight), at least 1."""
        now = self.clock()
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return max(1, int((midnight - now).total_seconds()))

    @property
    def remaining(self) -> int | None:
        """Requests left today (None when unlimited)."""
        return None if self.limit is None else max(0, self.limit - self.used)

    def set(self, limit: int | None, used: int | None = None) -> None:
        """Change the allowance (and optionally how much of it is already used)."""
        with self._lock:
            self.limit = limit
            if used is not None:
                self.used = used


class Faults:
    """The fault plan of one org: per-endpoint rules, one-shot session expiry, and the daily quota."""

    def __init__(self, seed: int = 0, *, daily_quota: int | None = None) -> None:
        self.seed = seed
        self.quota = Quota(daily_quota)
        self._rules: dict[str, FaultRule] = {}
        self._calls: dict[str, int] = {}
        self._expire_after: int | None = None
        self._lock = threading.Lock()

    # -- configuration -------------------------------------------------------------------
    def set(self, endpoint: str = ANY_ENDPOINT, **changes: float | str) -> FaultRule:
        """Set fields of the rule for ``endpoint`` (``"*"`` = every endpoint without its own rule).

        Example: ``faults.set("query", error_rate=0.2, error="lock")``; unknown fields raise.
        """
        known = {f.name for f in fields(FaultRule)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown fault setting(s) {sorted(unknown)}; known: {sorted(known)}")
        with self._lock:
            rule = replace(self._rules.get(endpoint, FaultRule()), **changes)  # type: ignore[arg-type]
            self._rules[endpoint] = rule
            return rule

    def clear(self, endpoint: str | None = None) -> None:
        """Remove one endpoint's rule, or (no argument) every rule and the pending session expiry."""
        with self._lock:
            if endpoint is None:
                self._rules.clear()
                self._expire_after = None
            else:
                self._rules.pop(endpoint, None)

    def reseed(self, seed: int) -> None:
        """Start a fresh replayable sequence: new seed, per-endpoint call numbers back to 0."""
        with self._lock:
            self.seed = seed
            self._calls.clear()

    def expire_session_after(self, calls: int | None) -> None:
        """Let ``calls`` more authenticated calls pass, then refuse the session once (None: never).

        One-shot on purpose: simple-salesforce's SFType methods re-login forever if every new
        session is refused too (crm-api-notes §0.3).
        """
        with self._lock:
            self._expire_after = calls

    # -- per request -----------------------------------------------------------------------
    def rule_for(self, endpoint: str) -> FaultRule | None:
        """The endpoint's own rule, else the ``*`` rule, else None."""
        return self._rules.get(endpoint) or self._rules.get(ANY_ENDPOINT)

    def decide(self, endpoint: str) -> FaultDecision:
        """The fault verdict for the next call to ``endpoint`` (deterministic per seed and call number)."""
        with self._lock:
            number = self._calls.get(endpoint, 0)
            self._calls[endpoint] = number + 1
            rule = self.rule_for(endpoint)
        if rule is None or rule == FaultRule():
            return NO_FAULT
        rng = random.Random(f"{self.seed}|{endpoint}|{number}")
        drop_roll, error_roll, jitter_roll = rng.random(), rng.random(), rng.random()
        return FaultDecision(
            latency=rule.latency + rule.jitter * jitter_roll,
            drop=drop_roll < rule.drop_rate,
            error=rule.error if error_roll < rule.error_rate else None,
        )

    def session_expires_now(self) -> bool:
        """Count one authenticated call: after the armed number of calls, True exactly once."""
        with self._lock:
            if self._expire_after is None:
                return False
            if self._expire_after <= 0:
                self._expire_after = None
                return True
            self._expire_after -= 1
            return False
