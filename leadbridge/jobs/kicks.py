"""Kicks: work made due by a transaction is published the moment that transaction commits.

Rules (active only in processes that run or publish background work — ``leadbridge run``, workers):
- a lead that becomes ``qualified`` (API, webhook, import, poll) gets routed: ``route_lead(ROUTE_ALL)``,
  as the router takes every waiting lead at once (a thousand new leads: one routing task);
- an outbox row inserted for a target gets ``flush_outbox(target)`` (offers reach partners and
  write-backs reach the home CRM within a second, not at the next sweep);
- kicks ride on ``dispatch_after_commit``: nothing is published for a transaction that rolls back,
  and nothing before the rows are visible to other connections.
No caller has to remember to kick: the rules watch the session's flushes, and the rows event batches
insert in bulk (``core/event_batch.on_bulk_insert``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from leadbridge.core import event_batch
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.store.tables import LeadRow, OutboxRow
from leadbridge.jobs.dispatch import dispatch_after_commit
from leadbridge.jobs.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD

_lock = threading.Lock()
_installed = False
_PENDING_KEY = "leadbridge_kicks"


def _collect(session: Session, _context: Any) -> None:
    """After each flush: remember what this transaction made due (published after commit)."""
    fresh: set[tuple[str, str]] = set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, LeadRow) and obj.state == LeadState.QUALIFIED.value:
            fresh.add((ROUTE_LEAD, ROUTE_ALL))
    # a retried row (dirty, due later) is the sweeper's business
    _kick_targets(session, fresh, (obj for obj in session.new if isinstance(obj, OutboxRow)))


def _collect_bulk(session: Session, rows: dict[type, list[Any]]) -> None:
    """Outbox rows an event batch inserted in bulk (past the unit of work) kick their targets too."""
    _kick_targets(session, set(), rows.get(OutboxRow, ()))


def _kick_targets(session: Session, fresh: set[tuple[str, str]], outbox_rows: Iterable[OutboxRow]) -> None:
    """Publish ``fresh`` plus a flush of each target with a new pending row, once per transaction."""
    pending: set[tuple[str, str]] = session.info.setdefault(_PENDING_KEY, set())
    fresh |= {(FLUSH_OUTBOX, row.target) for row in outbox_rows if row.status == "pending"}
    for step, arg in fresh - pending:
        pending.add((step, arg))
        dispatch_after_commit(session, step, arg)


def _reset(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended (savepoints do not count)
        session.info.pop(_PENDING_KEY, None)


def install() -> None:
    """Turn kicks on for every session in this process (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_transaction_end", _reset)
        event_batch.on_bulk_insert(_collect_bulk)
        _installed = True


def uninstall() -> None:
    global _installed
    with _lock:
        if not _installed:
            return
        event.remove(Session, "after_flush", _after_flush)
        event.remove(Session, "after_transaction_end", _reset)
        event_batch.remove_bulk_listener(_collect_bulk)
        _installed = False


def _after_flush(session: Session, context: Any) -> None:
    # after_flush, not before_flush: rows other before_flush hooks add (the event→outbox projector)
    # are part of this flush and still listed in ``session.new`` here.
    _collect(session, context)
