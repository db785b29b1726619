"""Where due work goes: Celery (scaled mode), the in-process scheduler (embedded), or nowhere yet.

Rules:
- work is published only after the transaction that made it due has committed
  (``after_commit``): a worker must never look for a row that is not visible yet, and a rolled-back
  change must never be sent. The database (outbox, lead states) stays the source of truth; the
  reconcile loop (``sync/reconcile.py``) publishes anything due that a lost message or a crash left behind;
- the dispatcher a session publishes to is its runtime's (``session.info[DISPATCHER]``, set by
  ``leadbridge.runtime``), never a process-wide one: two runtimes in one process stay apart;
- with no broker and no running scheduler (a one-shot CLI command), publishing is a no-op: the
  next ``leadbridge run``/worker picks the work up from the database.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)

DISPATCHER = "leadbridge_dispatcher"  # session.info key: where this session's kicks go


class Dispatcher(Protocol):
    def send(self, step: str, args: tuple[str, ...]) -> None:
        """Queue one run of ``step(*args)``."""


class NullDispatcher:
    """No scheduler in this process: work waits in the database for the reconcile loop."""

    def send(self, step: str, args: tuple[str, ...]) -> None:
        log.debug("no background runner in this process; %s%s waits for the reconcile loop", step, args)


class Relay:
    """A runtime's dispatcher: forwards to whatever runs work now (the embedded scheduler while it
    runs, a Celery publisher in scaled mode), else to a ``NullDispatcher``.

    The runtime is built before its scheduler starts, and sessions keep the relay, so the target
    can change (scheduler started, stopped) without re-attaching any listener.
    """

    def __init__(self, target: Dispatcher | None = None) -> None:
        self._lock = threading.Lock()
        self._target: Dispatcher = target or NullDispatcher()

    @property
    def target(self) -> Dispatcher:
        return self._target

    def switch(self, target: Dispatcher | None) -> Dispatcher:
        """Send to ``target`` from now on (None: nowhere); returns the previous target."""
        with self._lock:
            previous, self._target = self._target, target or NullDispatcher()
        return previous

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self._target.send(step, tuple(args))


_AFTER_COMMIT = "leadbridge_after_commit"
_LISTENING = "leadbridge_after_commit_listening"


def dispatch_after_commit(session: Session, step: str, *args: str) -> None:
    """Queue ``step(*args)`` once ``session``'s outermost transaction commits; never if it rolls back.

    This is the "kick": a lead created through the API or a webhook is routed at once instead of
    waiting for the next reconcile tick. Savepoints (``begin_nested``) committing do not count.
    """
    if not session.info.get(_LISTENING):
        session.info[_LISTENING] = True
        event.listen(session, "after_commit", _publish_waiting)
        event.listen(session, "after_transaction_end", _forget_waiting)
    waiting: dict[tuple[str, tuple[str, ...]], None] = session.info.setdefault(_AFTER_COMMIT, {})
    waiting[(step, tuple(args))] = None  # a dict: ordered, and the same work only once


def _publish_waiting(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction may still roll back
    dispatcher: Dispatcher = session.info.get(DISPATCHER) or NullDispatcher()
    for step, args in session.info.pop(_AFTER_COMMIT, None) or ():
        try:
            dispatcher.send(step, args)
        except Exception:  # a kick is only an accelerator: the reconcile loop finds the work anyway
            log.warning("kick %s%s not published; the reconcile loop will find it", step, args, exc_info=True)


def _forget_waiting(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (sent) or rolled back
        session.info.pop(_AFTER_COMMIT, None)
