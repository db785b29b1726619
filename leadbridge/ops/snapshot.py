"""One read of the database's operational state, shared by ``/metrics`` and ``leadbridge status``.

Rules:
- the database is the source of truth for pending work: leads by state, pending offers and their
  age, outbox depth and age per target and status, and when each connection last synced;
- "last successful sync" of a connection is the ``@poll`` checkpoint the poll jobs write after a
  poll finished without error (``record_poll_success``); a connection never polled has none;
- ages are measured from ``now`` (injected, for tests) and are ``None`` when nothing is waiting.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import CheckpointRow, LeadRow, OfferRow, OutboxRow, TimerRow

POLL_STREAM = "@poll"  # the checkpoint stream the poll jobs use to record a successful poll
SWEEP_TIMER = "reconcile"  # the timer row the reconcile loop records each sweep in


# Outbox statuses that mean "not delivered yet"; every other status (sent, dead) is finished.
WAITING_STATUSES = frozenset({"pending", "claimed"})


@dataclass
class OutboxTarget:
    target: str
    by_status: dict[str, int] = field(default_factory=dict)
    oldest_waiting_age_s: float | None = None  # age of the oldest row still waiting to be sent

    @property
    def waiting(self) -> int:
        return sum(n for status, n in self.by_status.items() if status in WAITING_STATUSES)


@dataclass
class Snapshot:
    taken_at: datetime
    leads_by_state: dict[str, int] = field(default_factory=dict)
    oldest_unrouted_lead_age_s: float | None = None  # oldest lead still ``qualified`` (not routed)
    offers_pending: int = 0
    oldest_pending_offer_age_s: float | None = None
    outbox: dict[str, OutboxTarget] = field(default_factory=dict)
    last_sync: dict[str, datetime | None] = field(default_factory=dict)
    # The reconcile loop (sync/reconcile.py): how long ago it last swept (None: never), and how long
    # the oldest item it found due had been waiting then. A sweep age that grows means nothing
    # finds work any more; an oldest-due age that grows means work is found but does not get done.
    last_sweep_age_s: float | None = None
    oldest_due_age_s: float | None = None
    due_at_last_sweep: int = 0

    @property
    def outbox_depth(self) -> int:
        """Rows still to be sent (pending + claimed), over every target."""
        return sum(t.waiting for t in self.outbox.values())

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outbox_depth"] = self.outbox_depth
        for name, target in self.outbox.items():
            data["outbox"][name]["waiting"] = target.waiting
        return data


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 3)


def take_snapshot(database: Database, *, now: datetime | None = None) -> Snapshot:
    """Read the operational state per the module rules (a handful of indexed aggregate queries)."""
    now = now or utcnow()
    snap = Snapshot(taken_at=now)
    with database.transaction() as session:
        for state, count in session.execute(select(LeadRow.state, func.count()).group_by(LeadRow.state)):
            snap.leads_by_state[state] = count
        unrouted = session.execute(
            select(func.min(LeadRow.updated_at)).where(LeadRow.state == LeadState.QUALIFIED.value)
        ).scalar_one()
        snap.oldest_unrouted_lead_age_s = _age(now, unrouted)
        count, oldest = session.execute(
            select(func.count(), func.min(OfferRow.offered_at)).where(OfferRow.status == "pending")
        ).one()
        snap.offers_pending, snap.oldest_pending_offer_age_s = count, _age(now, oldest)
        _read_outbox(session, snap, now)
        _read_last_sync(session, snap)
        _read_sweep(session, snap, now)
    return snap


def _read_sweep(session: Session, snap: Snapshot, now: datetime) -> None:
    row = session.get(TimerRow, SWEEP_TIMER)
    if row is None:
        return
    snap.last_sweep_age_s = _age(now, row.last_run_at)
    snap.due_at_last_sweep = int(row.detail.get("due") or 0)
    oldest = row.detail.get("oldest_due_at")
    if oldest and row.last_run_at is not None:
        snap.oldest_due_age_s = _age(row.last_run_at, datetime.fromisoformat(oldest))


def _read_outbox(session: Session, snap: Snapshot, now: datetime) -> None:
    rows = session.execute(
        select(OutboxRow.target, OutboxRow.status, func.count(), func.min(OutboxRow.created_at)).group_by(
            OutboxRow.target, OutboxRow.status
        )
    )
    for target, status, count, oldest in rows:
        entry = snap.outbox.setdefault(target, OutboxTarget(target))
        entry.by_status[status] = entry.by_status.get(status, 0) + count
        if status in WAITING_STATUSES:
            age = _age(now, oldest)
            if age is not None and (entry.oldest_waiting_age_s is None or age > entry.oldest_waiting_age_s):
                entry.oldest_waiting_age_s = age


def _read_last_sync(session: Session, snap: Snapshot) -> None:
    for connection, stamp in session.execute(
        select(CheckpointRow.connection, CheckpointRow.updated_at).where(CheckpointRow.stream == POLL_STREAM)
    ):
        snap.last_sync[connection] = stamp


def record_poll_success(
    session: Session, connection: str, *, worker: str, at: datetime | None = None
) -> None:
    """Remember that ``connection`` was polled successfully (read by status and readiness)."""
    at = at or utcnow()
    row = session.get(CheckpointRow, (connection, POLL_STREAM))
    if row is None:
        session.add(
            CheckpointRow(
                connection=connection,
                stream=POLL_STREAM,
                cursor_stamp=None,
                cursor_id=None,
                state={"worker": worker},
                updated_at=at,
            )
        )
    else:
        row.updated_at = at
        row.state = {"worker": worker}
