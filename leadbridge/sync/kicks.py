"""Kicks: work made due by a transaction is published the moment that transaction commits.

Kicks are accelerators only: the reconcile loop (``sync/reconcile.py``) finds the same work from
the database on its next tick, so a kick lost with a crashed process, a broker blip or a process
that runs no background work (``NullDispatcher``) delays work, never loses it.

Rules (attached to one database's sessionmaker by ``leadbridge.runtime``):
- a lead that lands in a state the router moves on — ``qualified``, ``routing`` (a re-route),
  ``returned`` — or whose offer was declined or expired gets ``route_lead(ROUTE_ALL)``, as the
  router takes every waiting lead at once (a thousand new leads: one routing task);
- an outbox row inserted for a target gets ``flush_outbox(target)`` (offers reach partners and
  write-backs reach the home CRM within a second, not at the next tick);
- kicks ride on ``dispatch_after_commit``: nothing is published for a transaction that rolls back,
  and nothing before the rows are visible to other connections.
No caller has to remember to kick: the rules watch the session's flushes, and the rows event batches
insert in bulk (``core/event_batch.on_bulk_insert``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, SessionTransaction

from leadbridge.core import event_batch
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import OfferStatus
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OfferRow, OutboxRow
from leadbridge.sync.dispatch import DISPATCHER, Dispatcher, dispatch_after_commit
from leadbridge.sync.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD

_PENDING_KEY = "leadbridge_kicks"
ROUTER_STATES = frozenset({LeadState.QUALIFIED.value, LeadState.ROUTING.value, LeadState.RETURNED.value})
REFUSED = frozenset({OfferStatus.DECLINED.value, OfferStatus.EXPIRED.value})


def attach(database: Database, dispatcher: Dispatcher) -> None:
    """Publish kicks from ``database``'s sessions to ``dispatcher`` (once per database)."""
    maker = database.sessionmaker
    database.session_info[DISPATCHER] = dispatcher
    if not event.contains(maker, "after_flush", _after_flush):
        event.listen(maker, "after_flush", _after_flush)
        event.listen(maker, "after_transaction_end", _reset)
    event_batch.on_bulk_insert(database.session_info, _collect_bulk)


def _after_flush(session: Session, _context: Any) -> None:
    """After each flush: remember what this transaction made due (published after commit).

    after_flush, not before_flush: rows other before_flush hooks add (the event→outbox projector)
    are part of this flush and still listed in ``session.new`` here.
    """
    fresh: set[tuple[str, str]] = set()
    for obj in (*session.new, *session.dirty):
        if (isinstance(obj, LeadRow) and obj.state in ROUTER_STATES and _changed(obj, "state")) or (
            isinstance(obj, OfferRow) and obj.status in REFUSED and _changed(obj, "status")
        ):
            fresh.add((ROUTE_LEAD, ROUTE_ALL))
            break
    # a retried row (dirty, due later) is the reconcile loop's business
    _kick_targets(session, fresh, (obj for obj in session.new if isinstance(obj, OutboxRow)))


def _changed(obj: Any, attribute: str) -> bool:
    # Only a change counts: a routing pass that leaves a waiting lead as it was must not kick
    # itself again (that would loop); in after_flush the flush's history is still readable.
    return bool(inspect(obj).attrs[attribute].history.has_changes())


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
