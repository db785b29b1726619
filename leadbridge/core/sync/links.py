"""Links between leads and the remote records that mirror them, with what each side last said.

Rules: a pulled record whose leadbridge-owned values equal ``written`` and whose remote-owned values
equal ``seen`` only reflects leadbridge's own write (an *echo*) and is not taken in again; a
leadbridge-owned value that differs from ``written`` is a *conflict* (leadbridge wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.sync.tables import SyncLinkRow


def get(session: Session, connection: str, remote_id: str) -> SyncLinkRow | None:
    return session.execute(
        select(SyncLinkRow).where(SyncLinkRow.connection == connection, SyncLinkRow.remote_id == remote_id)
    ).scalar_one_or_none()


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
    existing: SyncLinkRow | None = None,
    preloaded: bool = False,
) -> SyncLinkRow:
    """Create or update the link; ``written``/``seen`` replace the stored values when given.
    ``preloaded``: the caller looked the link up already (``existing``, ``None`` if there is none)."""
    row = existing if preloaded else get(session, connection, remote_id)
    if row is None:
        row = SyncLinkRow(
            connection=connection,
            remote_id=remote_id,
            lead_id=lead_id,
            partner_id=partner_id,
            written=dict(written or {}),
            seen=dict(seen or {}),
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row
    if written is not None:
        row.written = dict(written)
    if seen is not None:
        row.seen = dict(seen)
    row.updated_at = now
    return row


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
