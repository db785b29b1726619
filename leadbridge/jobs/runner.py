"""Run one step the same way everywhere (Celery task, embedded scheduler, CLI), then publish its follow-ups.

Rules:
- the step runs with its log context bound (step, and the lead / connection / target it is about)
  and its wall time observed in ``leadbridge_task_seconds{step, outcome}``;
- follow-ups are published only after the step returned, i.e. after its transactions committed;
- errors propagate unchanged: what to retry is the caller's policy (``RETRIABLE``), decided once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError, OperationalError

from leadbridge.core.errors import RetriableError, SessionExpired
from leadbridge.ops.logs import log_context
from leadbridge.ops.metrics import TASK_SECONDS
from leadbridge.sync import steps
from leadbridge.sync.steps import Followup, JobContext

log = logging.getLogger(__name__)

# Errors worth another try later: transient remote failures, an expired session (refreshed on the
# next try), database hiccups (a lost connection, a deadlock victim) and a unique-key race with a
# concurrent writer (the next try finds the other writer's row). Never a 4xx-like error.
RETRIABLE: tuple[type[BaseException], ...] = (
    RetriableError,
    SessionExpired,
    ConnectionError,
    TimeoutError,
    OperationalError,
    IntegrityError,
)

# A failed step is not retried by the job layer: each remote call was already retried under the one
# policy (``core/retry.py``), the work is still due in the database, and the reconcile loop publishes it again
# when it is due (an outbox row at its ``next_attempt_at``). A broker countdown would be a second
# schedule, and one longer than Redis's visibility timeout is delivered twice (celery #4766).
# Only a ``Busy`` lease is waited for, for exactly its ``retry_after``, at most ``MAX_BUSY_WAITS`` times.
MAX_BUSY_WAITS = 5

# Which argument names what, for the log context.
_SUBJECT = {
    steps.ROUTE_LEAD: "lead_id",
    steps.DELIVER_OFFERS: "lead_id",
    steps.POLL_SOURCE: "connection",
    steps.POLL_PARTNER: "connection",
    steps.FLUSH_OUTBOX: "target",
}


def run_step(ctx: JobContext, name: str, args: Sequence[str]) -> list[Followup]:
    """Run step ``name`` with ``args`` per the module rules; returns its follow-ups (unpublished)."""
    step = ctx.steps.resolve(name)
    subject = {_SUBJECT[name]: args[0]} if name in _SUBJECT and args else {}
    started = time.perf_counter()
    outcome = "error"
    with log_context(step=name, **subject):
        try:
            followups = list(step(ctx, *args) or ())
            outcome = "ok"
            return followups
        finally:
            elapsed = time.perf_counter() - started
            TASK_SECONDS.labels(name, outcome).observe(elapsed)
            log.debug("step %s finished: %s in %.3fs", name, outcome, elapsed)


def execute(ctx: JobContext, name: str, args: Sequence[str]) -> list[Followup]:
    """Run the step and publish its follow-ups through the context's (its runtime's) dispatcher."""
    followups = run_step(ctx, name, args)
    for followup in followups:
        ctx.dispatcher.send(followup.step, followup.args)
    return followups
