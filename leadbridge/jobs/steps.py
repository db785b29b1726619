"""The narrow seam between background jobs and the engine: step names → callables.

Rules:
- every background task runs exactly one *step*, named here; a step is a plain function
  ``step(ctx, *ids)`` that reloads what it needs from the database by id, is idempotent (running
  it twice, or after a crash half-way, converges to the same state) and returns the follow-up work
  it made due (``Followup``s), which the caller dispatches *after* the step's transactions committed;
- the engine's functions (sync, router, SLA) are wired here with one ``register`` line each, so
  Celery, the embedded scheduler and the CLI all run the same code;
- a step that is not wired raises ``StepNotWired`` naming it: nothing pretends to have run.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from leadbridge.core.errors import LeadbridgeError, RetriableError
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.jobs.leases import lease
from leadbridge.ops.snapshot import record_poll_success

log = logging.getLogger(__name__)

# The step names the schedule, the sweeper and the kicks use. Keep in step with docs/operations.md.
POLL_SOURCE = "poll_source"  # (connection) pull new/changed leads from a manufacturer CRM
ROUTE_LEAD = "route_lead"  # (lead_id) match a qualified lead and create its offers
DELIVER_OFFERS = "deliver_offers"  # (lead_id) push a lead's pending offers to the partners
POLL_PARTNER = "poll_partner"  # (connection) pull claims/status/outcomes from a partner CRM
FLUSH_OUTBOX = "flush_outbox"  # (target) send due outbox rows to one external system in batches
SLA_TICK = "sla_tick"  # () expire offers, send reminders, escalate
SWEEP = "sweep"  # () re-publish due work the database holds (the outbox is the source of truth)

# A poll's extra argument when a webhook announced news: if another poll of the connection is running
# (it may have read past the new record already), wait and poll again rather than skip.
WEBHOOK = "webhook"
POLL_BUSY_RETRY_S = 1.0

# The router routes every waiting lead at once: kicks name this instead of one lead, so any
# number of new leads collapse into one queued routing task.
ROUTE_ALL = "*"

STEP_NAMES: tuple[str, ...] = (
    POLL_SOURCE,
    ROUTE_LEAD,
    DELIVER_OFFERS,
    POLL_PARTNER,
    FLUSH_OUTBOX,
    SLA_TICK,
    SWEEP,
)


class Busy(RetriableError):
    """Another worker holds the lease this step needs: try again after exactly ``retry_after`` s
    (no exponential backoff: the holder finishes soon, and a long wait would idle the pipeline)."""


class StepNotWired(LeadbridgeError):
    """The engine function behind a step is not available in this build."""


@dataclass(frozen=True)
class Followup:
    """Work a step made due: run ``step`` with ``args`` once the step's commits are visible."""

    step: str
    args: tuple[str, ...] = ()


@dataclass
class JobContext:
    """What a step gets: the settings, the database and who is running it (for claims/leases)."""

    settings: Settings
    database: Database
    worker_id: str
    extra: dict[str, Any] = field(default_factory=dict)


Step = Callable[..., Iterable[Followup] | None]

_REGISTRY: dict[str, Step] = {}


def register(name: str, step: Step) -> None:
    """Wire ``name`` to ``step``; an explicit registration wins over leadbridge's built-in wiring."""
    _REGISTRY[name] = step


def register_default(name: str, step: Step) -> None:
    """Wire ``name`` to ``step`` unless something else was registered for it already."""
    _REGISTRY.setdefault(name, step)


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


def resolve(name: str) -> Step:
    """The callable for a step, or ``StepNotWired`` if nothing provides it."""
    _wire_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise StepNotWired(f"background step {name!r} is not wired to an engine function yet") from None


def wired() -> list[str]:
    """Step names that have a callable, in registry order."""
    _wire_builtin()
    return list(_REGISTRY)


def exclusive_poll(poll: Step) -> Step:
    """Wrap a poll ``poll(ctx, connection)`` so at most one runs per connection at a time.

    The loser of the lease skips (the holder is already reading that connection) — unless a webhook
    asked for it (``WEBHOOK``): then it retries shortly, as the running poll may have passed the
    announced record. The winner records a successful poll (``leadbridge status`` shows it) only
    when the poll did not raise.
    """

    @wraps(poll)
    def step(ctx: JobContext, connection: str, *why: str) -> list[Followup]:
        with lease(ctx.database, f"poll:{connection}") as held:
            if not held:
                if WEBHOOK in why:
                    busy = f"a poll of {connection} is running; polling again after it"
                    raise Busy(busy, retry_after=POLL_BUSY_RETRY_S)
                log.info("poll of %s skipped: another worker holds its lease", connection)
                return []
            followups = list(poll(ctx, connection) or ())
            with ctx.database.transaction() as session:
                record_poll_success(session, connection, worker=ctx.worker_id)
            return followups

    return step


_BUILTIN_WIRED = False
_wiring = threading.Lock()


def _wire_builtin() -> None:
    """Register leadbridge's own steps once (lazily, so importing jobs stays cheap).

    Under a lock, and marked done only after the registrations: the embedded scheduler's threads
    resolve their first steps at the same moment, and one of them must not see a half-wired registry.
    """
    global _BUILTIN_WIRED
    if _BUILTIN_WIRED:
        return
    with _wiring:
        if _BUILTIN_WIRED:
            return
        from leadbridge.jobs import engine, sweeper

        register_default(SWEEP, sweeper.sweep)
        engine.wire()
        _BUILTIN_WIRED = True
