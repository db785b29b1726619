"""The embedded scheduler: the same steps, in-process, on a schedule — no broker to install.

Rules:
- one timer thread publishes each schedule entry every ``every_s`` (the first run right at start)
  and releases delayed retries when due; ``workers`` threads run the queued steps through
  ``runner.execute``, exactly as a Celery worker would;
- while it runs it is its runtime's dispatcher (``rt.dispatcher`` relays to it), so an after-commit
  kick (a lead created through the API or a webhook) is routed at once instead of at the next tick;
- the same ``(step, args)`` waits in the queue at most once; a failed step is logged and left to
  the reconcile loop, which republishes the work while the database says it is due (the remote
  calls were already retried under the one policy, ``core/retry.py``). Only a ``Busy`` step (another
  worker holds its lease) is queued again after exactly its ``retry_after``, up to ``MAX_BUSY_WAITS`` times;
- ``stop()`` lets running steps finish (each is one transaction per unit of work, so stopping
  between steps loses nothing) and gives the runtime its previous dispatcher back.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable

from leadbridge.jobs.runner import MAX_BUSY_WAITS, RETRIABLE, execute
from leadbridge.jobs.schedule import Entry, schedule
from leadbridge.runtime import Runtime
from leadbridge.sync.dispatch import Dispatcher
from leadbridge.sync.steps import Busy, StepNotWired

log = logging.getLogger(__name__)

Work = tuple[str, tuple[str, ...]]
_STOP: Work = ("", ())

SCHEDULER = "scheduler"  # rt.extra key: the embedded scheduler running for that runtime


def running_scheduler(rt: Runtime) -> EmbeddedScheduler | None:
    """The scheduler started for ``rt``, if any (readiness checks it)."""
    scheduler = rt.extra.get(SCHEDULER)
    return scheduler if isinstance(scheduler, EmbeddedScheduler) else None


class EmbeddedScheduler:
    """Runs steps in threads on a schedule, per the module rules."""

    def __init__(
        self,
        rt: Runtime,
        *,
        workers: int = 2,
        entries: list[Entry] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rt = rt
        self.ctx = rt.context()
        self.entries = schedule(rt.settings) if entries is None else entries
        self.workers = workers
        self.clock = clock
        self._queue: queue.Queue[Work] = queue.Queue()
        self._queued: set[Work] = set()
        self._attempts: dict[Work, int] = {}
        self._delayed: list[tuple[float, int, Work]] = []
        self._seq = itertools.count()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._previous: Dispatcher | None = None
        self._idle = threading.Condition(self._lock)
        self._busy = 0

    # -- the Dispatcher protocol -------------------------------------------------------------
    def send(self, step: str, args: tuple[str, ...]) -> None:
        work = (step, tuple(args))
        with self._lock:
            if work in self._queued:
                return
            self._queued.add(work)
        self._queue.put(work)

    # -- life cycle ---------------------------------------------------------------------------
    def start(self) -> EmbeddedScheduler:
        self._previous = self.rt.dispatcher.switch(self)
        self.rt.extra[SCHEDULER] = self
        self._threads = [threading.Thread(target=self._tick, name="leadbridge-timer", daemon=True)]
        self._threads += [
            threading.Thread(target=self._work, name=f"leadbridge-worker-{n}", daemon=True)
            for n in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        log.info("embedded scheduler started: %d entries, %d workers", len(self.entries), self.workers)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        for _ in range(self.workers):
            self._queue.put(_STOP)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if self._previous is not None:
            self.rt.dispatcher.switch(self._previous)
        if self.rt.extra.get(SCHEDULER) is self:
            del self.rt.extra[SCHEDULER]
        log.info("embedded scheduler stopped")

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and not self._stop.is_set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until nothing is queued, waiting for a retry, or running; for tests and demos."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._queued or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    # -- threads ------------------------------------------------------------------------------
    def _tick(self) -> None:
        next_due = {entry.name: self.clock() for entry in self.entries}
        while not self._stop.is_set():
            now = self.clock()
            for entry in self.entries:
                if next_due[entry.name] <= now:
                    next_due[entry.name] = now + entry.every_s
                    self.send(entry.step, entry.args)
            released: list[Work] = []
            with self._lock:
                while self._delayed and self._delayed[0][0] <= now:
                    released.append(heapq.heappop(self._delayed)[2])
                    self._queued.discard(released[-1])
                upcoming = [self._delayed[0][0]] if self._delayed else []
            for work in released:
                self.send(*work)
            upcoming += list(next_due.values())
            self._wake.wait(max(0.01, min(upcoming, default=now + 1.0) - self.clock()))
            self._wake.clear()

    def _work(self) -> None:
        while True:
            work = self._queue.get()
            if work == _STOP:
                return
            with self._lock:
                self._queued.discard(work)
                self._busy += 1
            try:
                self._run(work)
            finally:
                with self._idle:
                    self._busy -= 1
                    self._idle.notify_all()

    def _run(self, work: Work) -> None:
        step, args = work
        try:
            execute(self.ctx, step, args)
            self._attempts.pop(work, None)
        except StepNotWired as error:
            log.error("%s", error)
        except Busy as error:
            attempt = self._attempts.get(work, 0)
            if attempt >= MAX_BUSY_WAITS:
                self._attempts.pop(work, None)
                log.warning("step %s%s still busy after %d tries; reconcile has it", step, args, attempt + 1)
                return
            self._attempts[work] = attempt + 1
            delay = float(error.retry_after or 0.0)
            log.debug("step %s busy (%s); again in %.2fs", step, error, delay)
            with self._lock:
                self._queued.add(work)  # counts as waiting, so a kick meanwhile does not double it
                heapq.heappush(self._delayed, (self.clock() + delay, next(self._seq), work))
            self._wake.set()
        except RETRIABLE as error:
            self._attempts.pop(work, None)
            log.warning(
                "step %s%s failed (%s: %s); the reconcile loop republishes it when due",
                step,
                args,
                type(error).__name__,
                error,
            )
        except Exception:
            log.exception("step %s%s failed", step, args)
