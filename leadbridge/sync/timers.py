"""Timers: when periodic work is next due, kept in the database (``timers`` table).

Rules:
- a timer is a row ``name → due_at``; the reconcile loop treats a missing row as due now, so a new
  connection is polled at the first tick and a fresh database needs no seeding;
- ``start`` moves ``due_at`` one interval on *before* the work runs (the holder of the work's lease
  calls it): a run that crashes half-way is retried one interval later, never in a tight loop;
- ``succeeded`` records the last good run (status pages show it); ``record`` keeps a note about a
  run (the reconcile sweep: when, how much was due, the oldest due item).
Timer names: ``poll:<connection>``, ``sla``, ``reconcile``, ``rollup_reports``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.store.tables import TimerRow
from leadbridge.ops.snapshot import SWEEP_TIMER

SLA = "sla"
ROLLUP = "rollup_reports"  # the reports' daily pre-aggregates
RECONCILE = SWEEP_TIMER  # the sweep records itself here (health reads it)


def poll_timer(connection: str) -> str:
    return f"poll:{connection}"


def _row(session: Session, name: str, now: datetime) -> TimerRow:
    row = session.get(TimerRow, name)
    if row is None:
        row = TimerRow(name=name, due_at=now, last_run_at=None, last_ok_at=None, detail={})
        session.add(row)
    return row


def start(session: Session, name: str, *, now: datetime, every_s: float) -> None:
    """A run of ``name`` begins now: it is next due ``every_s`` from now (module rules)."""
    row = _row(session, name, now)
    row.last_run_at = now
    row.due_at = now + timedelta(seconds=every_s)


def succeeded(session: Session, name: str, *, now: datetime) -> None:
    """The run of ``name`` that began last finished without error."""
    _row(session, name, now).last_ok_at = now


def record(session: Session, name: str, *, now: datetime, detail: dict[str, Any]) -> None:
    """Note a run of ``name`` (due again at once: a record is not a schedule)."""
    row = _row(session, name, now)
    row.last_run_at = row.last_ok_at = row.due_at = now
    row.detail = detail


def due(session: Session, names: list[str], now: datetime) -> dict[str, datetime]:
    """Those of ``names`` that are due at ``now``, with since when (missing rows: due since ``now``)."""
    if not names:
        return {}
    found = dict(
        session.execute(select(TimerRow.name, TimerRow.due_at).where(TimerRow.name.in_(names))).all()
    )
    return {name: found.get(name, now) for name in names if found.get(name, now) <= now}


def read(session: Session, name: str) -> TimerRow | None:
    return session.get(TimerRow, name)
