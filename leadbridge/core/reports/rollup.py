"""Pre-aggregates of the report facts (``cells.py``): day cells, and month and year cells per cube,
kept level-triggered from the leads, offers and events.

Rules:
- ``report_cells`` holds the facts (``facts.py``) of whole UTC days before ``rolled_until``
  (``report_rollup``, one row): a day's cells are replaced as a whole, from the raw rows; then
  each month with a replaced day is summed again from its day cells, and each such year from its
  month cells (in every cube that has them) — so a month or year cell is always the sum of the cells below it;
- a day is *dirty* when a lead changed since the last refresh (``updated_at`` at or after
  ``watermark − OVERLAP``; every event and offer decision bumps its lead): the day it was created,
  and the days of each of its offers and events. The overlap covers transactions that committed
  after the refresh with an earlier ``updated_at``; refreshing a day twice changes nothing;
- ``refresh`` (the ``rollup_reports`` step, run by the reconcile loop every ``ROLLUP_S``)
  recomputes the dirty days and the days from ``rolled_until`` up to yesterday — at most
  ``MAX_DAYS`` new days per run, so a first fill of a large history proceeds in slices;
- readers never trust a dirty day (``read.py`` takes its stored cells away and reads it raw), so
  a report is exact between refreshes; the refresh only keeps the raw part small.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import Date, Integer, delete, func, insert, select, true
from sqlalchemy.orm import Mapped, Session, mapped_column

from leadbridge.core.model import utcnow
from leadbridge.core.reports.cells import COARSE, DAY_CUBE, Cell, Cells, ReportCellRow, project, rows_of
from leadbridge.core.reports.facts import DIMENSIONS, raw_facts
from leadbridge.core.store.tables import Base, LeadEventRow, LeadRow, OfferRow

OVERLAP = timedelta(minutes=10)
ROLLUP_S = 300.0
MAX_DAYS = 400


class ReportRollupRow(Base):
    """How far the daily facts reach and when they were last refreshed (one row, id 1)."""

    __tablename__ = "report_rollup"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rolled_until: Mapped[date | None] = mapped_column(Date)
    watermark: Mapped[datetime | None]


def day_of(at: datetime) -> date:
    """The UTC day of a timestamp (naive timestamps are UTC)."""
    return (at.astimezone(UTC) if at.tzinfo else at).date()


def start_of(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def dirty_days(session: Session, watermark: datetime | None) -> set[date]:
    """The days whose facts may have changed since ``watermark`` (module rules)."""
    if watermark is None:
        return set()
    changed = select(LeadRow.id).where(LeadRow.updated_at >= watermark - OVERLAP)
    stamps = [
        *session.scalars(select(LeadRow.created_at).where(LeadRow.updated_at >= watermark - OVERLAP)),
        *session.scalars(select(OfferRow.offered_at).where(OfferRow.lead_id.in_(changed))),
        *session.scalars(select(LeadEventRow.occurred_at).where(LeadEventRow.lead_id.in_(changed))),
    ]
    return {day_of(at) for at in stamps if at is not None}


def _first_day(session: Session) -> date | None:
    firsts = [
        session.execute(select(func.min(LeadRow.created_at))).scalar(),
        session.execute(select(func.min(OfferRow.offered_at))).scalar(),
        session.execute(select(func.min(LeadEventRow.occurred_at))).scalar(),
    ]
    known = [day_of(at) for at in firsts if at is not None]
    return min(known) if known else None


def _runs(days: Iterable[date]) -> list[tuple[date, date]]:
    """``[start, end)`` runs of consecutive days, none crossing a month's end (one raw read each)."""
    runs: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if runs and runs[-1][1] == day and day.day != 1:
            runs[-1] = (runs[-1][0], day + timedelta(days=1))
        else:
            runs.append((day, day + timedelta(days=1)))
    return runs


def _stored(session: Session, *where: Any) -> Iterator[tuple[tuple[Any, ...], Cell]]:
    """Stored cells as (every dimension's value, figures)."""
    table = ReportCellRow.__table__
    for row in session.execute(select(*table.c).where(*where)):
        yield tuple(getattr(row, d) for d in DIMENSIONS), Cell.of_row(row)


def _insert(session: Session, rows: Iterable[dict[str, Any]]) -> int:
    """Store cells; on PostgreSQL by COPY (a first fill writes millions)."""
    if session.get_bind().dialect.name == "postgresql":
        columns = [c.name for c in ReportCellRow.__table__.c if c.name != "id"]
        count = 0
        cursor = session.connection().connection.cursor()
        with cursor.copy(f"COPY report_cells ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row[c] for c in columns])
                count += 1
        return count
    batch: list[dict[str, Any]] = []
    count = 0
    for row in rows:
        batch.append(row)
        if len(batch) >= 5_000:
            session.execute(insert(ReportCellRow), batch)
            count += len(batch)
            batch = []
    if batch:
        session.execute(insert(ReportCellRow), batch)
        count += len(batch)
    return count


def replace_days(session: Session, days: Iterable[date]) -> dict[date, Cells]:
    """Recompute and store the day cells of ``days`` from the raw rows; the cells by day."""
    table = ReportCellRow
    by_day: dict[date, Cells] = defaultdict(dict)
    for start, end in _runs(days):
        session.execute(
            delete(table).where(
                table.cube == DAY_CUBE, table.grain == "d", table.period >= start, table.period < end
            )
        )
        for fact in raw_facts(session, [(start_of(start), start_of(end))], by_day=True):
            assert fact.day is not None
            key = (fact.partner_id, fact.campaign, fact.country, fact.products)
            cells = by_day[fact.day]
            cell = cells.get(key)
            if cell is None:
                cell = cells[key] = Cell()
            cell.add_fact(fact)
    _insert(session, (row for day, cells in by_day.items() for row in rows_of(DAY_CUBE, "d", day, cells)))
    return by_day


def replace_month(session: Session, month: date, fresh: dict[date, Cells]) -> None:
    """Recompute a month's cells, in every cube that has them, as the sum of its day cells —
    ``fresh`` (just recomputed) and the stored ones of its other days."""
    table = ReportCellRow
    session.execute(delete(table).where(table.grain == "m", table.period == month))
    stored = _stored(
        session,
        table.cube == DAY_CUBE,
        table.grain == "d",
        table.period >= month,
        table.period < _next_month(month),
        table.period.not_in(list(fresh)) if fresh else true(),
    )
    whole = project(chain(stored, (item for cells in fresh.values() for item in cells.items())), DAY_CUBE)
    for cube in COARSE:
        _insert(session, rows_of(cube, "m", month, project(whole.items(), cube)))


def replace_years(session: Session, years: Iterable[int]) -> None:
    """Recompute each year's cells, in every cube, as the sum of its month cells."""
    table = ReportCellRow
    for year in sorted(set(years)):
        first = date(year, 1, 1)
        session.execute(delete(table).where(table.grain == "y", table.period == first))
        for cube in COARSE:
            months = _stored(
                session,
                table.cube == cube,
                table.grain == "m",
                table.period >= first,
                table.period < date(year + 1, 1, 1),
            )
            _insert(session, rows_of(cube, "y", first, project(months, cube)))


def _next_month(month: date) -> date:
    return date(month.year + 1, 1, 1) if month.month == 12 else date(month.year, month.month + 1, 1)


def state(session: Session) -> ReportRollupRow | None:
    return session.get(ReportRollupRow, 1)


def refresh(session: Session, *, now: datetime | None = None, max_days: int = MAX_DAYS) -> list[date]:
    """Bring the daily facts up to date in the caller's transaction (module rules); the days redone."""
    now = now or utcnow()
    today = day_of(now)
    row = state(session)
    if row is None:
        row = ReportRollupRow(id=1, rolled_until=None, watermark=None)
        session.add(row)
    days = {d for d in dirty_days(session, row.watermark) if row.rolled_until and d < row.rolled_until}
    start = row.rolled_until or _first_day(session) or today
    end = min(today, start + timedelta(days=max_days))
    day = start
    while day < end:
        days.add(day)
        day += timedelta(days=1)
    months: dict[date, list[date]] = defaultdict(list)
    for day in days:
        months[day.replace(day=1)].append(day)
    for month, month_days in sorted(months.items()):  # a month at a time: memory stays bounded
        replace_month(session, month, replace_days(session, month_days))
    replace_years(session, {m.year for m in months})
    row.rolled_until = max(end, row.rolled_until or end)
    row.watermark = now
    session.flush()
    return sorted(days)
