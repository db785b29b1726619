"""Quarantine: records that could not be mapped, kept with their reason until a re-run maps them.

Rules:
- a failed record is kept per ``(connection, external id)``; failing again updates its reason and
  counts the attempt, so a record is never listed twice;
- a re-run maps every open record of a connection with the current mapping; those that map now
  are resolved (and handed back to be taken in), the others keep their new reason;
- a record without an id is keyed by a hash of its content, so it is still kept, never dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import QuarantineRow
from leadbridge.mappings.apply import Mapped, MappingFailure, Plan


@dataclass
class QuarantinedRecord:
    connection: str
    external_id: str
    reason: str
    record: dict[str, Any]
    attempts: int
    created_at: datetime
    updated_at: datetime


class QuarantineStore(Protocol):
    """Where quarantined records live: the database in production, memory in tests."""

    def put(self, connection: str, external_id: str, reason: str, record: dict[str, Any]) -> None: ...

    def resolve(self, connection: str, external_id: str) -> None: ...

    def open(self, connection: str | None = None) -> list[QuarantinedRecord]: ...


def record_key(failure: MappingFailure) -> str:
    """The external id, or ``sha1:<hash>`` of the record when it has none."""
    if failure.external_id:
        return failure.external_id
    digest = hashlib.sha1(json.dumps(failure.record, sort_keys=True, default=str).encode()).hexdigest()
    return f"sha1:{digest[:20]}"


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(record, default=str))
    return result


class MemoryQuarantine:
    """An in-memory ``QuarantineStore`` (tests, dry runs)."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], QuarantinedRecord] = {}

    def put(self, connection: str, external_id: str, reason: str, record: dict[str, Any]) -> None:
        now = utcnow()
        known = self.items.get((connection, external_id))
        if known:
            known.reason, known.record, known.updated_at = reason, _jsonable(record), now
            known.attempts += 1
        else:
            self.items[(connection, external_id)] = QuarantinedRecord(
                connection, external_id, reason, _jsonable(record), 1, now, now
            )

    def resolve(self, connection: str, external_id: str) -> None:
        self.items.pop((connection, external_id), None)

    def open(self, connection: str | None = None) -> list[QuarantinedRecord]:
        return [q for q in self.items.values() if connection is None or q.connection == connection]


class SqlQuarantine:
    """The ``quarantine`` table as a ``QuarantineStore``; the caller owns the transaction."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, connection: str, external_id: str) -> QuarantineRow | None:
        query = select(QuarantineRow).where(
            QuarantineRow.connection == connection, QuarantineRow.external_id == external_id
        )
        return self.session.execute(query).scalar_one_or_none()

    def put(self, connection: str, external_id: str, reason: str, record: dict[str, Any]) -> None:
        now = utcnow()
        row = self._row(connection, external_id)
        if row is None:
            row = QuarantineRow(
                connection=connection, external_id=external_id, attempts=0, created_at=now, updated_at=now
            )
            self.session.add(row)
        row.reason, row.record, row.updated_at, row.resolved_at = reason, _jsonable(record), now, None
        row.attempts = (row.attempts or 0) + 1
        self.session.flush()

    def resolve(self, connection: str, external_id: str) -> None:
        row = self._row(connection, external_id)
        if row is not None and row.resolved_at is None:
            row.resolved_at = utcnow()
            self.session.flush()

    def open(self, connection: str | None = None) -> list[QuarantinedRecord]:
        query = select(QuarantineRow).where(QuarantineRow.resolved_at.is_(None))
        if connection is not None:
            query = query.where(QuarantineRow.connection == connection)
        rows = self.session.execute(query.order_by(QuarantineRow.updated_at, QuarantineRow.id)).scalars()
        return [
            QuarantinedRecord(
                r.connection, r.external_id, r.reason, r.record, r.attempts, r.created_at, r.updated_at
            )
            for r in rows
        ]


def quarantine(store: QuarantineStore, connection: str, failures: Iterable[MappingFailure]) -> int:
    """Keep every failure in the store; return how many."""
    count = 0
    for failure in failures:
        store.put(connection, record_key(failure), failure.reason, failure.record)
        count += 1
    return count


def rerun(
    plan: Plan, store: QuarantineStore, connection: str
) -> tuple[list[Mapped], list[QuarantinedRecord]]:
    """Map the connection's open records again: resolve and return those that map now, keep the rest."""
    mapped: list[Mapped] = []
    for item in store.open(connection):
        ok, failed = plan.map_batch([item.record], connection)
        if ok:
            store.resolve(connection, item.external_id)
            mapped.extend(ok)
        else:
            store.put(connection, item.external_id, failed[0].reason, item.record)
    return mapped, store.open(connection)
