"""Daily pre-aggregates of the report facts: one row per day × partner × campaign × region ×
products × measure × code, kept level-triggered from the leads, offers and events.

Rules:
- ``report_daily`` holds the facts (``facts.py``) of whole UTC days before ``rolled_until``
  (``report_rollup``, one row); a day's rows are replaced as a whole, from the raw rows;
- a day is *dirty* when a lead changed since the last refresh (``updated_at`` at or after
  ``watermark − OVERLAP``; every event and offer decision bumps its lead): the day it was created,
  and the days of each of its offers and events. The overlap covers transactions that committed
  after the refresh with an earlier ``updated_at``; refreshing a day twice changes nothing;
- ``refresh`` (the ``rollup_reports`` step, run by the reconcile loop every ``ROLLUP_S``)
  recomputes the dirty days and the days from ``rolled_until`` up to yesterday — at most
  ``MAX_DAYS`` new days per run, so a first fill of a large history proceeds in slices;
- readers never trust a dirty day (``read.py`` reads it raw), so a report is exact between
  refreshes; the refresh only keeps the raw part small.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, Index, Integer, Numeric, String, delete, func, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from leadbridge.core.model import utcnow
from leadbridge.core.reports.facts import raw_facts
from leadbridge.core.store.tables import Base, LeadEventRow, LeadRow, OfferRow

OVERLAP = timedelta(minutes=10)
ROLLUP_S = 300.0
MAX_DAYS = 400


class ReportDailyRow(Base):
    """The facts of one whole day (module rules)."""

    __tablename__ = "report_daily"
    __table_args__ = (Index("ix_report_daily_day", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    partner_id: Mapped[str | None] = mapped_column(String(40))
    campaign: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    products: Mapped[str] = mapped_column(String(500))
    measure: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(60))
    n: Mapped[int] = mapped_column(Integer)
    amount: Mapped[float] = mapped_column(Numeric(16, 2))


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


def replace_day(session: Session, day: date) -> int:
    """Recompute one day's facts from the raw rows; the number of fact rows stored."""
    session.execute(delete(ReportDailyRow).where(ReportDailyRow.day == day))
    facts = raw_facts(session, [(start_of(day), start_of(day + timedelta(days=1)))])
    if facts:
        session.execute(
            insert(ReportDailyRow),
            [
                {
                    "day": day,
                    "partner_id": f.partner_id,
                    "campaign": f.campaign,
                    "country": f.country,
                    "products": f.products,
                    "measure": f.measure,
                    "code": f.code,
                    "n": f.n,
                    "amount": f.amount,
                }
                for f in facts
            ],
        )
    return len(facts)


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
    for day in sorted(days):
        replace_day(session, day)
    row.rolled_until = max(end, row.rolled_until or end)
    row.watermark = now
    session.flush()
    return sorted(days)
