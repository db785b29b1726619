"""Links between leads and the remote records that mirror them, with what each side last said.

Rules: a pulled record whose leadbridge-owned values equal ``written`` and whose remote-owned values
equal ``seen`` only reflects leadbridge's own write (an *echo*) and is not taken in again; a
leadbridge-owned value that differs from ``written`` is a *conflict* (leadbridge wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.sync.tables import SyncLinkRow


def by_remote(session: Session, connection: str, remote_ids: list[str]) -> dict[str, SyncLinkRow]:
    """The links of these remote records, by remote id (one query for a page)."""
    rows = session.execute(
        select(SyncLinkRow).where(SyncLinkRow.connection == connection, SyncLinkRow.remote_id.in_(remote_ids))
    ).scalars()
    return {row.remote_id: row for row in rows}


def for_lead(session: Session, connection: str, lead_id: str) -> SyncLinkRow | None:
    return session.execute(
        select(SyncLinkRow).where(SyncLinkRow.connection == connection, SyncLinkRow.lead_id == lead_id)
    ).scalar_one_or_none()


def for_leads(session: Session, connection: str, lead_ids: list[str]) -> dict[str, SyncLinkRow]:
    rows = session.execute(
        select(SyncLinkRow).where(SyncLinkRow.connection == connection, SyncLinkRow.lead_id.in_(lead_ids))
    ).scalars()
    return {row.lead_id: row for row in rows}


@dataclass(frozen=True)
class LinkWrite:
    """What to record for one remote record; ``written``/``seen`` replace the stored values when given."""

    remote_id: str
    lead_id: str
    partner_id: str | None = None
    written: Mapping[str, Any] | None = None
    seen: Mapping[str, Any] | None = None
    seen_if_new: Mapping[str, Any] | None = None  # ``seen`` for a link created now (first push)


def remember_many(
    session: Session, connection: str, writes: Sequence[LinkWrite], *, now: datetime
) -> dict[str, SyncLinkRow]:
    """Create or update the links of ``writes`` (two queries and one insert for any number).

    New links are inserted with ``ON CONFLICT DO NOTHING``, so a link another transaction created
    meanwhile (a flush recording a write while a partner poll records the same record) is not an
    error: the stored row is read back and updated like any existing one.
    """
    if not writes:
        return {}
    wanted = {write.remote_id: write for write in writes}  # the last write of a record wins
    rows = by_remote(session, connection, list(wanted))
    missing = [write for remote_id, write in wanted.items() if remote_id not in rows]
    if missing:
        session.execute(
            _insert_ignoring_duplicates(session),
            [
                {
                    "connection": connection,
                    "remote_id": write.remote_id,
                    "lead_id": write.lead_id,
                    "partner_id": write.partner_id,
                    "written": dict(write.written or {}),
                    "seen": dict(write.seen or write.seen_if_new or {}),
                    "updated_at": now,
                }
                for write in missing
            ],
        )
        rows.update(by_remote(session, connection, [write.remote_id for write in missing]))
    for remote_id, write in wanted.items():
        row = rows[remote_id]
        if write.written is not None and row.written != dict(write.written):
            row.written = dict(write.written)
        if write.seen is not None and row.seen != dict(write.seen):
            row.seen = dict(write.seen)
        row.updated_at = now
    return rows


def remember(
    session: Session,
    connection: str,
    remote_id: str,
    lead_id: str,
    *,
    now: datetime,
    partner_id: str | None = None,
    written: Mapping[str, Any] | None = None,
    seen: Mapping[str, Any] | None = None,
) -> SyncLinkRow:
    """Create or update one link (``remember_many`` for one record)."""
    write = LinkWrite(remote_id, lead_id, partner_id, written, seen)
    return remember_many(session, connection, [write], now=now)[remote_id]


def _insert_ignoring_duplicates(session: Session) -> Any:
    """INSERT … ON CONFLICT (connection, remote_id) DO NOTHING, in the session's dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(SyncLinkRow).on_conflict_do_nothing(index_elements=["connection", "remote_id"])
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(SyncLinkRow).on_conflict_do_nothing(index_elements=["connection", "remote_id"])


def differences(
    current: Mapping[str, Any], last: Mapping[str, Any], fields: tuple[str, ...]
) -> dict[str, Any]:
    """``{field: (last, current)}`` for each of ``fields`` whose value changed (``None`` == missing)."""
    return {
        name: (last.get(name), current.get(name))
        for name in fields
        if _norm(current.get(name)) != _norm(last.get(name))
    }


def _norm(value: Any) -> Any:
    if value in ("", None):
        return None
    if isinstance(value, float | int):
        return float(value)
    try:
        return float(value) if isinstance(value, str) and value.replace(".", "", 1).isdigit() else value
    except ValueError:
        return value
