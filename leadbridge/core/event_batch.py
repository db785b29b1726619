"""Event batches: many leads' events appended in one flush instead of one flush per event.

Appending an event normally costs a key lookup, a savepoint and a flush, so a racing writer with
the same idempotency key is caught at once. A batch trades that for speed on bulk paths (intake of a
page, a routing pass), under these rules:

- the caller holds the batch's leads locked (or has just created them) for the whole transaction;
- the events of those leads are loaded once, when the batch opens: an idempotency key found there
  is a replay, and *every other key is presumed new* — no lookup per event;
- events, offers and intake rows are only added to the session; the batch flushes once, when it
  closes, inserting those append-only rows by executemany (the session's flush hooks still see
  every event first). A wrong presumption (a key stored by a concurrent writer, or used on another lead) then
  surfaces as an ``IntegrityError`` at that flush: the caller rolls the batch back whole and redoes
  its items one at a time on the checked path, so the outcome is the same, only slower.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from leadbridge.core.store.tables import Base, IntakeRow, LeadEventRow, LeadRow, OfferRow, OutboxRow

_BATCH_KEY = "leadbridge_event_batch"


@dataclass
class EventBatch:
    """The leads of a batch by id, and the events known to exist (loaded or appended), by key."""

    rows: dict[str, LeadRow] = field(default_factory=dict)
    events: dict[str, LeadEventRow] = field(default_factory=dict)

    def add_row(self, row: LeadRow) -> None:
        self.rows[row.id] = row

    def add_event(self, row: LeadEventRow) -> None:
        self.events[row.idempotency_key] = row


def current_batch(session: Session) -> EventBatch | None:
    """The batch open on ``session``, if any (services consult it to skip per-event round trips)."""
    batch = session.info.get(_BATCH_KEY)
    return batch if isinstance(batch, EventBatch) else None


@contextmanager
def event_batch(session: Session, rows: Iterable[LeadRow] = ()) -> Iterator[EventBatch]:
    """Open a batch over ``rows`` (already locked by the caller) and flush once at the end.

    Nested use joins the open batch. The flush at the end may raise ``IntegrityError`` (module rules).
    """
    open_batch = current_batch(session)
    if open_batch is not None:
        for row in rows:
            open_batch.add_row(row)
        yield open_batch
        return
    batch = EventBatch()
    for row in rows:
        batch.add_row(row)
    if batch.rows:
        with session.no_autoflush:
            for event_row in session.execute(
                select(LeadEventRow).where(LeadEventRow.lead_id.in_(list(batch.rows)))
            ).scalars():
                batch.add_event(event_row)
    session.info[_BATCH_KEY] = batch
    try:
        yield batch
        _flush_in_bulk(session)
    finally:
        session.info.pop(_BATCH_KEY, None)


# Append-only rows that nothing reads back through the session within the batch: inserted with one
# executemany per table instead of through the unit of work, which costs several times more per row.
_BULK_TYPES: tuple[type[Base], ...] = (LeadEventRow, OfferRow, IntakeRow, OutboxRow)

BulkListener = Callable[[Session, dict[type[Base], list[Any]]], None]
BULK_LISTENERS = "leadbridge_bulk_listeners"  # session.info key: this database's bulk listeners


def on_bulk_insert(session_info: dict[str, Any], listener: BulkListener) -> None:
    """Call ``listener(session, rows by type)`` after a batch inserted its append-only rows, for the
    sessions whose ``info`` starts from ``session_info`` (one database's: ``Database.session_info``).

    The rows bypass the unit of work, so ORM ``after_flush`` hooks do not see them; a hook that
    reacts to new rows (the kicks that publish outbox work after commit) registers here too.
    """
    listeners: list[BulkListener] = session_info.setdefault(BULK_LISTENERS, [])
    if listener not in listeners:
        listeners.append(listener)


def _flush_in_bulk(session: Session) -> None:
    """Flush the batch: the session's flush hooks see every new event, then the append-only rows go
    in by executemany and the lead rows through a normal flush.

    Order matters: ``before_flush`` listeners (the event→outbox projector) run while the new events
    are still in the session; new leads are flushed before the rows that refer to them; bulk
    listeners (``on_bulk_insert``) hear of the inserted rows.
    """
    if not any(isinstance(obj, LeadEventRow) for obj in session.new):
        session.flush()
        return
    session.dispatch.before_flush(session, None, None)
    bulk: dict[type[Base], list[Any]] = {kind: [] for kind in _BULK_TYPES}
    for obj in list(session.new):
        if isinstance(obj, _BULK_TYPES):
            bulk[type(obj)].append(obj)
            session.expunge(obj)
    session.flush()
    for kind, rows in bulk.items():
        if rows:
            table = cast(Table, kind.__table__)
            # every column but a database-generated key (the autoincrement ids of log and outbox)
            keys = [c.key for c in table.columns if not (c.primary_key and c.autoincrement is True)]
            session.execute(insert(table), [{key: getattr(row, key) for key in keys} for row in rows])
    for listener in list(session.info.get(BULK_LISTENERS, ())):
        listener(session, bulk)


def lock_leads(session: Session, lead_ids: Iterable[str]) -> list[LeadRow]:
    """Load and lock these leads in id order (a fixed order, so two lockers never deadlock)."""
    ids = sorted(set(lead_ids))
    if not ids:
        return []
    query = select(LeadRow).where(LeadRow.id.in_(ids)).order_by(LeadRow.id).with_for_update()
    return list(session.execute(query).scalars())
