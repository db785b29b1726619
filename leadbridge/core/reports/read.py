"""The facts of a report's range: whole clean days from the daily pre-aggregates, the rest raw.

Rules:
- the range ``[since, until)`` splits into whole UTC days before ``rolled_until`` that are not dirty
  (read from ``report_daily``, summed by the database) and the rest — the partial days at either
  end, the dirty days, the days from ``rolled_until`` on — read from the raw rows (``facts.py``);
- with no pre-aggregates yet everything is read raw: the figures are the same either way, only
  the time differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadbridge.core.reports.facts import DIMENSIONS, Facts, Window, raw_facts
from leadbridge.core.reports.rollup import ReportDailyRow, day_of, dirty_days, start_of, state
from leadbridge.core.reports.window import ReportFilter, money


def _first_whole_day(since: datetime) -> date:
    day = day_of(since)
    return day if start_of(day) == since else day + timedelta(days=1)


def _windows(days: Sequence[date]) -> list[Window]:
    """Consecutive days joined into windows."""
    windows: list[Window] = []
    for day in sorted(days):
        start, end = start_of(day), start_of(day + timedelta(days=1))
        if windows and windows[-1][1] == start:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows


def report_facts(
    session: Session, flt: ReportFilter, by: Sequence[str], measures: Sequence[str] | None = None
) -> Facts:
    """The facts of ``flt`` summed by the dimensions ``by`` (module rules)."""
    unknown = set(by) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown report dimension(s): {sorted(unknown)}")
    facts = Facts(by)
    rolled = state(session)
    raw: list[Window] = [(flt.since, flt.until)]
    if rolled is not None and rolled.rolled_until is not None:
        first = _first_whole_day(flt.since) if flt.since else None
        last = min(day_of(flt.until), rolled.rolled_until) if flt.until else rolled.rolled_until
        dirty = sorted(
            d for d in dirty_days(session, rolled.watermark) if (first is None or d >= first) and d < last
        )
        if first is None or first < last:
            _summed(session, facts, flt, first, last, dirty, measures)
            raw = [w for w in _windows(dirty)]
            if flt.since is not None and first is not None and start_of(first) > flt.since:
                raw.append((flt.since, start_of(first)))
            if flt.until is None or start_of(last) < flt.until:
                raw.append((start_of(last), flt.until))
    for fact in raw_facts(session, [w for w in raw if w[0] is None or w[1] is None or w[0] < w[1]], flt):
        if measures is None or fact.measure in measures:
            facts.add_fact(fact)
    return facts


def _summed(
    session: Session,
    facts: Facts,
    flt: ReportFilter,
    first: date | None,
    last: date,
    dirty: Sequence[date],
    measures: Sequence[str] | None,
) -> None:
    table = ReportDailyRow
    columns: list[Any] = [getattr(table, d) for d in facts.by]
    query = select(*columns, table.measure, table.code, func.sum(table.n), func.sum(table.amount)).where(
        table.day < last
    )
    if first is not None:
        query = query.where(table.day >= first)
    if dirty:
        query = query.where(table.day.not_in(list(dirty)))
    if measures is not None:
        query = query.where(table.measure.in_(list(measures)))
    if flt.campaign is not None:
        query = query.where(table.campaign == flt.campaign)
    if flt.country is not None:
        query = query.where(table.country == flt.country.upper())
    if flt.partner_id is not None:
        query = query.where(table.partner_id == flt.partner_id)
    for *key, n, amount in session.execute(query.group_by(*columns, table.measure, table.code)):
        facts.add(tuple(key), int(n or 0), money(Decimal(str(amount or 0))))
