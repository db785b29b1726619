"""Checkpoints: how far each ``(connection, stream)`` has been read, as a keyset ``(stamp, id)``.

Rules: a checkpoint only moves forward, and it is saved in the same transaction as the page of
records it covers — so a crash either keeps both or neither, and the next read (``>=`` with a
lookback, de-duplicated against the keyset) resumes exactly where the last commit ended.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from leadbridge.core.store.tables import CheckpointRow
from leadbridge.ports import Checkpoint


def load(session: Session, connection: str, stream: str) -> Checkpoint | None:
    row = session.get(CheckpointRow, (connection, stream))
    if row is None or row.cursor_stamp is None or row.cursor_id is None:
        return None
    recent = tuple((str(stamp), str(key)) for stamp, key in (row.state or {}).get("recent", []))
    return Checkpoint(row.cursor_stamp, row.cursor_id, recent)


def save(session: Session, connection: str, stream: str, checkpoint: Checkpoint, *, now: datetime) -> None:
    """Move the checkpoint to ``checkpoint`` unless it is already further (never backwards)."""
    row = session.get(CheckpointRow, (connection, stream))
    if row is None:
        session.add(
            CheckpointRow(
                connection=connection,
                stream=stream,
                cursor_stamp=checkpoint.stamp,
                cursor_id=checkpoint.id,
                state={"recent": [list(key) for key in checkpoint.recent]},
                updated_at=now,
            )
        )
        return
    current = load(session, connection, stream)
    if current is not None and checkpoint <= current:
        return
    row.cursor_stamp, row.cursor_id, row.updated_at = checkpoint.stamp, checkpoint.id, now
    row.state = {**(row.state or {}), "recent": [list(key) for key in checkpoint.recent]}


def reset(session: Session, connection: str, stream: str) -> None:
    row = session.get(CheckpointRow, (connection, stream))
    if row is not None:
        session.delete(row)
