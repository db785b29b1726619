"""The scorecard's trend: the same figures per week or per month.

Rules:
- periods are UTC calendar weeks (Monday to Monday) or months; a range cuts the first and last
  period (each figure counts what happened in its period *and* the range); without a start the
  trend shows the last ``DEFAULT_PERIODS`` periods up to the range's end (or now);
- with a partner filter a period's line is that partner's scorecard row; without, it is the
  network: the sums of offers, accepted, won and revenue, and the network median of each rate
  and time (``scorecard.MEDIAN_FIELDS``);
- each period is one scorecard over whole days, so it reads the daily pre-aggregates.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from leadbridge.core.model import utcnow
from leadbridge.core.reports.scorecard import MEDIAN_FIELDS, partner_scorecard
from leadbridge.core.reports.window import ReportFilter, day_start

Period = Literal["week", "month"]
DEFAULT_PERIODS = 12
SUMMED = ("offers", "accepted", "won", "lost", "returned")


def period_start(at: datetime, period: Period) -> datetime:
    """The start (UTC midnight) of the week or month ``at`` falls in."""
    day = at.date()
    first = day - timedelta(days=day.weekday()) if period == "week" else day.replace(day=1)
    start = day_start(first)
    assert start is not None
    return start


def next_start(start: datetime, period: Period) -> datetime:
    if period == "week":
        return start + timedelta(days=7)
    return (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )


def periods(
    flt: ReportFilter, period: Period, now: datetime | None = None
) -> list[tuple[datetime, datetime]]:
    """The ``[start, end)`` of each period of the range (module rules), oldest first."""
    until = flt.until or now or utcnow()
    if flt.since is not None:
        start = period_start(flt.since, period)
    else:
        start = period_start(until - timedelta(microseconds=1), period)
        for _ in range(DEFAULT_PERIODS - 1):
            start = period_start(start - timedelta(days=1), period)
    spans = []
    while start < until:
        end = next_start(start, period)
        spans.append((max(start, flt.since or start), min(end, until)))
        start = end
    return spans


def scorecard_trend(
    session: Session, flt: ReportFilter, period: Period, now: datetime | None = None
) -> list[dict[str, Any]]:
    """One line per period (module rules), oldest first."""
    lines: list[dict[str, Any]] = []
    for start, end in periods(flt, period, now):
        card = partner_scorecard(session, replace(flt, since=start, until=end))
        line: dict[str, Any] = {"period": period_start(start, period).date().isoformat()}
        if flt.partner_id:
            own = next((r for r in card.rows if r.partner_id == flt.partner_id), None)
            figures = own.as_dict() if own else {}
            line |= {k: figures.get(k, 0) for k in SUMMED}
            line["revenue"] = figures.get("revenue", "0.00")
            line |= {k: figures.get(k) for k in MEDIAN_FIELDS}
        else:
            line |= {k: sum(getattr(r, k) for r in card.rows) for k in SUMMED}
            line["revenue"] = str(sum((r.revenue for r in card.rows), Decimal("0.00")))
            line |= card.network
        lines.append(line)
    return lines
