"""Celery tasks: one thin task per step, taking ids only (``sync/steps.py`` names them).

Rules:
- a task reloads everything from the database by id and runs its step through ``runner.execute``
  (the same path the embedded scheduler takes), so it is idempotent by construction;
- a failed step is not retried with ``task.retry``: its remote calls were already retried under
  the one policy (``core/retry.py``), and the work is still due in the database, so the reconcile loop
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
from celery.utils.dispatch import Signal

from leadbridge.jobs.app import CeleryDispatcher, app, current_settings
from leadbridge.jobs.runner import MAX_BUSY_WAITS, RETRIABLE, execute
from leadbridge.jobs.schedule import task_name
from leadbridge.ops.logs import log_context
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync.steps import STEP_NAMES, Busy, StepNotWired
from leadbridge.sync.work import warm_up

log = logging.getLogger(__name__)

# Sent once per worker process right after its runtime is built, with ``runtime=``: a stand-in
# workload (tests) swaps steps in *that* runtime here, never in a process-wide table.
runtime_ready = Signal(name="leadbridge_runtime_ready")

_RUNTIME = "leadbridge_runtime"  # app.conf key: this worker process's runtime (the one per-process slot)
_build_lock = threading.Lock()


def worker_runtime() -> Runtime:
    """This worker process's runtime, built on first use (after the fork, so its engine is its own)."""
    rt = app.conf.get(_RUNTIME)
    if rt is None:
        with _build_lock:
            rt = app.conf.get(_RUNTIME)
            if rt is None:
                settings = current_settings()
                dispatcher = CeleryDispatcher(settings) if settings.broker_url else None
                rt = build_runtime(settings, dispatcher=dispatcher)
                runtime_ready.send(sender=app, runtime=rt)
                app.conf[_RUNTIME] = rt
    assert isinstance(rt, Runtime)
    return rt


@worker_init.connect
@worker_process_init.connect
def _fresh_runtime(**_: Any) -> None:
    """A (forked) worker process builds its own runtime: no CRM login, no database check here, so
    the process reports ready at once (a slow init makes Celery respawn it in a loop)."""
    app.conf[_RUNTIME] = None
    worker_runtime()
    warm_up()


def _run(task: Task, step: str, args: tuple[str, ...]) -> None:
    rt = worker_runtime()
    current = rt.dispatcher.target
    if isinstance(current, CeleryDispatcher):
        current.started(step, args)
    with log_context(task_id=task.request.id, attempt=task.request.retries):
        try:
            execute(rt.context(), step, args)
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
                "step %s failed (%s: %s); the reconcile loop republishes it when due",
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
