"""Celery tasks: one thin task per step, taking ids only (``jobs/steps.py`` names them).

Rules:
- a task reloads everything from the database by id and runs its step through ``runner.execute``
  (the same path the embedded scheduler takes), so it is idempotent by construction;
- a failed step is not retried with ``task.retry``: its remote calls were already retried under
  the one policy (``core/retry.py``), and the work is still due in the database, so the sweep
  publishes it again when it is due (no second schedule, no broker countdown past the visibility
  timeout). A transient failure (``runner.RETRIABLE``) is logged as such, anything else as an error;
- a ``Busy`` step (another worker holds its lease) is sent again after exactly its ``retry_after``;
- a step that is not wired yet is logged and dropped, never retried.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Task
from celery.signals import worker_init, worker_process_init

from leadbridge.jobs import dispatch, engine, kicks
from leadbridge.jobs.app import CeleryDispatcher, app, current_settings
from leadbridge.jobs.runner import MAX_BUSY_WAITS, RETRIABLE, execute, make_context
from leadbridge.jobs.schedule import task_name
from leadbridge.jobs.steps import STEP_NAMES, Busy, JobContext, StepNotWired
from leadbridge.ops.logs import log_context

log = logging.getLogger(__name__)

_ctx_lock = threading.Lock()
_ctx: JobContext | None = None


def worker_context() -> JobContext:
    """This worker process's job context (settings and database), made once."""
    global _ctx
    with _ctx_lock:
        if _ctx is None:
            _ctx = make_context(current_settings())
        return _ctx


@worker_init.connect
@worker_process_init.connect
def _install_dispatcher(**_: Any) -> None:
    """Inside a worker, follow-up work goes back to the broker."""
    global _ctx
    _ctx = None  # a forked child must not share its parent's database connections
    if current_settings().broker_url:
        dispatch.install(CeleryDispatcher(current_settings()))
        kicks.install()
    engine.warm_up()


def _run(task: Task, step: str, args: tuple[str, ...]) -> None:
    current = dispatch.current()
    if isinstance(current, CeleryDispatcher):
        current.started(step, args)
    with log_context(task_id=task.request.id, attempt=task.request.retries):
        try:
            execute(worker_context(), step, args)
        except StepNotWired as error:
            log.error("%s", error)
        except Busy as error:
            # Another worker holds this work's lease and drains it; one waiting copy of the task is
            # enough (more kicks meanwhile collapse into it), and it is not a failure to count.
            log.debug("step %s busy (%s); again in %.2fs", step, error, error.retry_after or 0)
            if isinstance(current, CeleryDispatcher):
                current.send(step, args, countdown=error.retry_after)
                return
            raise task.retry(exc=error, countdown=error.retry_after, max_retries=MAX_BUSY_WAITS) from error
        except RETRIABLE as error:
            log.warning(
                "step %s failed (%s: %s); the sweep republishes it when due",
                step,
                type(error).__name__,
                error,
            )


def define_task(step: str) -> Task:
    """Register the Celery task that runs ``step``."""

    @app.task(name=task_name(step), bind=True, max_retries=MAX_BUSY_WAITS, acks_late=True)
    def run_step(self: Task, *args: str) -> None:
        _run(self, step, tuple(args))

    return run_step


TASKS: dict[str, Task] = {step: define_task(step) for step in STEP_NAMES}
