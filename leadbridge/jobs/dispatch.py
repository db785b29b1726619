"""Where due work goes: Celery (scaled mode), the in-process scheduler (embedded), or nowhere yet.

Rules:
- work is published only after the transaction that made it due has committed
  (``after_commit``): a worker must never look for a row that is not visible yet, and a rolled-back
  change must never be sent. The database (outbox, lead states) stays the source of truth; the
  sweeper re-publishes anything due that a lost message or a crash left behind;
- the same ``(step, args)`` is queued at most once at a time: a periodic sweep on a busy system
  does not pile up copies of work that is already waiting;
- with no broker and no running scheduler (a one-shot CLI command), publishing is a no-op: the
  next ``leadbridge run``/worker picks the work up from the database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from leadbridge.jobs.steps import Followup

log = logging.getLogger(__name__)


class Dispatcher(Protocol):
    def send(self, step: str, args: tuple[str, ...]) -> None:
        """Queue one run of ``step(*args)``."""


class NullDispatcher:
    """No scheduler in this process: work waits in the database for the sweeper."""

    def send(self, step: str, args: tuple[str, ...]) -> None:
        log.debug("no background runner in this process; %s%s waits for the sweeper", step, args)


_lock = threading.Lock()
_current: Dispatcher = NullDispatcher()


def install(dispatcher: Dispatcher) -> Dispatcher:
    """Make ``dispatcher`` the process's target for kicks; returns the previous one."""
    global _current
    with _lock:
        previous, _current = _current, dispatcher
    return previous


def current() -> Dispatcher:
    return _current


def dispatch(step: str, *args: str) -> None:
    """Queue ``step(*args)`` now (call only when what it reads is committed)."""
    _current.send(step, tuple(args))


def dispatch_all(followups: Iterable[Followup]) -> None:
    for followup in followups:
        _current.send(followup.step, followup.args)


_AFTER_COMMIT = "leadbridge_after_commit"
_LISTENING = "leadbridge_after_commit_listening"


def dispatch_after_commit(session: Session, step: str, *args: str) -> None:
    """Queue ``step(*args)`` once ``session``'s outermost transaction commits; never if it rolls back.

    This is the "kick": a lead created through the API or a webhook is routed at once instead of
    waiting for the next poll. Savepoints (``begin_nested``) committing do not count.
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
    for step, args in session.info.pop(_AFTER_COMMIT, None) or ():
        _current.send(step, args)


def _forget_waiting(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (sent) or rolled back
        session.info.pop(_AFTER_COMMIT, None)
