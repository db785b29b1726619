"""The narrow seam between background jobs and the engine: step names → callables.

Rules:
- every background task runs exactly one *step*, named here; a step is a plain function
  ``step(ctx, *ids)`` that reloads what it needs from the database by id, is idempotent (running
  it twice, or after a crash half-way, converges to the same state) and returns the follow-up work
  it made due (``Followup``s), which the caller dispatches *after* the step's transactions committed;
- which function runs for a name is the runtime's ``StepTable`` (``leadbridge.runtime`` fills it
  once from ``sync/work.py``), so Celery, the embedded scheduler and the CLI all run the same code,
  and a test swaps a step in its own runtime, never process-wide;
- a step that is not wired raises ``StepNotWired`` naming it: nothing pretends to have run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from leadbridge.core.errors import LeadbridgeError, RetriableError
from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.ops.snapshot import record_poll_success
from leadbridge.sync import timers
from leadbridge.sync.dispatch import Dispatcher, NullDispatcher
from leadbridge.sync.leases import lease

log = logging.getLogger(__name__)

# The step names the schedule, the reconcile loop and the kicks use. Keep in step with docs/operations.md.
POLL_SOURCE = "poll_source"  # (connection) pull new/changed leads from a manufacturer CRM
ROUTE_LEAD = "route_lead"  # (lead_id) match a qualified lead and create its offers
DELIVER_OFFERS = "deliver_offers"  # (lead_id) push a lead's pending offers to the partners
POLL_PARTNER = "poll_partner"  # (connection) pull claims/status/outcomes from a partner CRM
FLUSH_OUTBOX = "flush_outbox"  # (target) send due outbox rows to one external system in batches
SLA_TICK = "sla_tick"  # () expire offers, send reminders, escalate
RECONCILE = "reconcile"  # () find every piece of due work in the database and publish it (sync/reconcile.py)
PURGE_EXPIRED = "purge_expired"  # () erase the leads past their state's retention (sync/retention.py)
ROLLUP_REPORTS = "rollup_reports"  # () refresh the reports' daily pre-aggregates (core/reports/rollup.py)
PUSH_PERFORMANCE = "push_performance"  # (connection) queue changed partner figures (sync/performance_push.py)

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
    RECONCILE,
    PURGE_EXPIRED,
    ROLLUP_REPORTS,
    PUSH_PERFORMANCE,
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


Step = Callable[..., Iterable[Followup] | None]


class StepTable:
    """Step names → callables for one runtime (``leadbridge.runtime`` builds the default one)."""

    def __init__(self, steps: Mapping[str, Step]) -> None:
        self._steps = dict(steps)

    def resolve(self, name: str) -> Step:
        """The callable for a step, or ``StepNotWired`` if nothing provides it."""
        try:
            return self._steps[name]
        except KeyError:
            raise StepNotWired(f"background step {name!r} is not wired to an engine function yet") from None

    def replace(self, **steps: Step) -> StepTable:
        """A copy with some steps swapped (tests, and workers that run a stand-in workload)."""
        return StepTable({**self._steps, **steps})

    def names(self) -> list[str]:
        return list(self._steps)


@dataclass
class JobContext:
    """What a step gets: the settings, the database, who runs it (claims/leases), where follow-ups
    go, and the step table (a step that runs another step looks it up here)."""

    settings: Settings
    database: Database
    worker_id: str
    steps: StepTable = field(default_factory=lambda: StepTable({}))
    dispatcher: Dispatcher = field(default_factory=NullDispatcher)
    extra: dict[str, Any] = field(default_factory=dict)


def exclusive_poll(poll: Step) -> Step:
    """Wrap a poll ``poll(ctx, connection)`` so at most one runs per connection at a time.

    The loser of the lease skips (the holder is already reading that connection) — unless a webhook
    asked for it (``WEBHOOK``): then it retries shortly, as the running poll may have passed the
    announced record. The winner records a successful poll (``leadbridge status`` shows it) only
    when the poll did not raise; the poll itself moves its timer on first (``sync/work.py``).
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
                timers.succeeded(session, timers.poll_timer(connection), now=utcnow())
            return followups

    return step
