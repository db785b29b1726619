"""The outbox: the durable queue of writes to external systems.

Rules:
- a row is inserted in the same transaction as the event that needs it (``enqueue``); its
  ``idempotency_key`` is unique, so replaying the event never queues the write twice;
- ``claim`` hands a worker due rows of one target and marks them claimed in the same transaction;
  on PostgreSQL the select uses ``FOR UPDATE SKIP LOCKED`` so two workers never claim the same row
  (SQLite has one writer at a time: ``BEGIN IMMEDIATE`` serialises claims). A claim older than
  ``stale_after`` belongs to a dead worker and may be taken over;
- several rows for one ``(lead, kind, partner)`` are one write (``coalesce``): the write carries the
  lead's *current* state, so sending it once settles them all;
- a failed row waits per the retry policy's formula (``RetryPolicy.wait_for``, the same one the
  connectors use within a call, on a longer horizon): a ``Retry-After`` the error carries is kept
  in full (a 429 with a long Retry-After reschedules the row instead of holding a worker), else
  exponential backoff with jitter; after ``max_attempts`` the row is ``dead``: it stays visible
  (``leadbridge outbox list``) until an admin retries it (``outbox retry``);
- a quota stop releases the claim without counting a try: nothing was wrong with the row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.retry import RetryPolicy
from leadbridge.core.store.tables import OutboxRow


class OutboxStatus(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    DEAD = "dead"


@dataclass(frozen=True)
class OutboxSettings:
    """How many tries a row gets, how backoff is spaced, and when a claim counts as abandoned."""

    max_attempts: int = 6
    stale_after: timedelta = timedelta(minutes=5)
    backoff: RetryPolicy = field(default_factory=lambda: RetryPolicy(base=30.0, cap=3600.0))

    def next_attempt(self, now: datetime, attempts: int, cause: BaseException | None = None) -> datetime:
        """When a row that failed its ``attempts``-th try (with ``cause``) is due again."""
        return now + timedelta(seconds=self.backoff.wait_for(attempts, cause))


def enqueue(
    session: Session,
    *,
    target: str,
    kind: str,
    lead_id: str | None,
    idempotency_key: str,
    payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Queue one write in the caller's transaction; False when the key is already queued."""
    exists = session.execute(select(OutboxRow.id).where(OutboxRow.idempotency_key == idempotency_key)).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                OutboxRow(
                    target=target,
                    kind=kind,
                    lead_id=lead_id,
                    idempotency_key=idempotency_key,
                    payload=payload,
                    status=OutboxStatus.PENDING.value,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    except IntegrityError:
        return False
    return True


def claim(
    session: Session,
    target: str,
    *,
    worker: str,
    now: datetime,
    limit: int,
    stale_after: timedelta = timedelta(minutes=5),
) -> list[OutboxRow]:
    """Claim up to ``limit`` due rows of ``target`` (oldest first) for ``worker`` (module rules)."""
    due = or_(
        (OutboxRow.status == OutboxStatus.PENDING.value) & (OutboxRow.next_attempt_at <= now),
        (OutboxRow.status == OutboxStatus.CLAIMED.value) & (OutboxRow.claimed_at < now - stale_after),
    )
    picked = select(OutboxRow.id).where(OutboxRow.target == target, due).order_by(OutboxRow.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        picked = picked.with_for_update(skip_locked=True)
    # One statement: pick (skipping rows another worker holds) and mark them ours, returning them.
    claimed = (
        update(OutboxRow)
        .where(OutboxRow.id.in_(picked.scalar_subquery()))
        .values(status=OutboxStatus.CLAIMED.value, claimed_by=worker, claimed_at=now)
        .returning(OutboxRow)
        .execution_options(synchronize_session=False)
    )
    rows = list(session.execute(claimed).scalars())
    return sorted(rows, key=lambda row: row.id)


def coalesce(
    rows: Iterable[OutboxRow],
    per_partner: frozenset[str] = frozenset({"partner_lead"}),
    singles: frozenset[str] = frozenset({"partner_event"}),
) -> dict[tuple[str, str, str], list[OutboxRow]]:
    """Group rows that one write settles: same lead and kind — and partner, for the ``per_partner``
    kinds (a partner's copy of a lead); rows of the ``singles`` kinds (messages, one per event) are a
    group each (its third part is the row id); insertion order kept."""
    groups: dict[tuple[str, str, str], list[OutboxRow]] = {}
    for row in rows:
        if row.kind in singles:
            third = str(row.id)
        else:
            third = str(row.payload.get("partner_id") or "") if row.kind in per_partner else ""
        groups.setdefault((row.lead_id or f"#{row.id}", row.kind, third), []).append(row)
    return groups


def _claimed(session: Session, ids: Sequence[int], worker: str) -> list[OutboxRow]:
    """Rows still claimed by ``worker``: a row taken over by another worker is theirs now."""
    if not ids:
        return []
    return list(
        session.execute(
            select(OutboxRow).where(
                OutboxRow.id.in_(ids),
                OutboxRow.claimed_by == worker,
                OutboxRow.status == OutboxStatus.CLAIMED.value,
            )
        ).scalars()
    )


def mark_sent(session: Session, ids: Sequence[int], *, worker: str, now: datetime) -> int:
    """Mark the rows still claimed by ``worker`` sent (one statement); how many were."""
    if not ids:
        return 0
    sent = (
        update(OutboxRow)
        .where(
            OutboxRow.id.in_(ids),
            OutboxRow.claimed_by == worker,
            OutboxRow.status == OutboxStatus.CLAIMED.value,
        )
        .values(
            status=OutboxStatus.SENT.value,
            sent_at=now,
            attempts=OutboxRow.attempts + 1,
            last_error=None,
            claimed_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(sent).rowcount or 0)  # type: ignore[attr-defined]


def mark_failed(
    session: Session,
    ids: Sequence[int],
    error: str,
    *,
    worker: str,
    now: datetime,
    settings: OutboxSettings,
    permanent: bool = False,
    cause: BaseException | None = None,
) -> int:
    """Count a failed try; schedule the next per backoff (honouring ``cause``'s Retry-After), or
    dead-letter after the last one."""
    rows = _claimed(session, ids, worker)
    for row in rows:
        row.attempts += 1
        row.last_error = error[:2000]
        row.claimed_by = None
        if permanent or row.attempts >= settings.max_attempts:
            row.status = OutboxStatus.DEAD.value
        else:
            row.status = OutboxStatus.PENDING.value
            row.next_attempt_at = settings.next_attempt(now, row.attempts, cause)
    return len(rows)


def release(session: Session, ids: Sequence[int], *, worker: str, not_before: datetime) -> int:
    """Give claimed rows back untouched (quota stop): they are due again at ``not_before``."""
    rows = _claimed(session, ids, worker)
    for row in rows:
        row.status = OutboxStatus.PENDING.value
        row.claimed_by = None
        row.next_attempt_at = not_before
    return len(rows)


def list_rows(
    session: Session, *, status: str | None = None, target: str | None = None, limit: int = 100
) -> list[OutboxRow]:
    query = select(OutboxRow).order_by(OutboxRow.id.desc()).limit(limit)
    if status:
        query = query.where(OutboxRow.status == status)
    if target:
        query = query.where(OutboxRow.target == target)
    return list(session.execute(query).scalars())


def counts(session: Session) -> dict[str, int]:
    """Rows per status, for summaries."""
    found: dict[str, int] = {}
    for status in session.execute(select(OutboxRow.status)).scalars():
        found[status] = found.get(status, 0) + 1
    return found


def retry_dead(session: Session, *, now: datetime, ids: Sequence[int] | None = None) -> int:
    """Put dead-lettered rows (all, or ``ids``) back in the queue with a fresh try budget."""
    query = (
        update(OutboxRow)
        .where(OutboxRow.status == OutboxStatus.DEAD.value)
        .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, claimed_by=None)
    )
    if ids:
        query = query.where(OutboxRow.id.in_(ids))
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]
