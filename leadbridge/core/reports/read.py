"""The facts of a report's range: whole clean days from the pre-aggregated cells, the rest raw.

Rules:
- the range ``[since, until)`` splits into whole UTC days before ``rolled_until`` (read from
  ``report_cells``, summed by the database) and the rest — the partial days at either end and the
  days from ``rolled_until`` on — read from the raw rows (``facts.py``);
- the whole days are covered by the fewest stored periods, added and subtracted (``cover``): a
  year or month cell whose period is mostly inside the range is taken whole and the days outside
  taken away; years and months come from the smallest cube holding the report's dimensions and
  filters (``cells.cube_for``), days from the day cells;
- a dirty day inside the range (``rollup.dirty_days``) has its stored cells taken away and is read
  raw instead, so figures are exact at any moment;
- with no pre-aggregates yet everything is read raw: the figures are the same either way, only
  the time differs.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.reports.cells import (
    AMOUNTS,
    COUNTS,
    DAY_CUBE,
    REASONS,
    ReportCellRow,
    column_of,
    cube_for,
)
from leadbridge.core.reports.facts import DIMENSIONS, HISTOGRAMS, Facts, Window, raw_facts
from leadbridge.core.reports.hours import Hist
from leadbridge.core.reports.rollup import day_of, dirty_days, start_of, state
from leadbridge.core.reports.window import ReportFilter, money

Period = tuple[str, date]  # (grain, first day)


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


def _unit(grain: str, day: date) -> tuple[date, date]:
    """The ``[start, end)`` of the year or month ``day`` falls in."""
    if grain == "y":
        return date(day.year, 1, 1), date(day.year + 1, 1, 1)
    start = day.replace(day=1)
    return start, (date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1))


def cover(first: date, last: date, rolled: date, grains: str = "ym") -> dict[Period, int]:
    """Stored periods, each with a sign (+1 or −1), whose signed sum is the days ``[first, last)``
    (all before ``rolled``; a stored year or month holds its days before ``rolled``); ``grains``:
    the coarser grains there are to use ("" for days only)."""
    out: dict[Period, int] = defaultdict(int)

    def days(start: date, end: date, sign: int) -> None:
        day = start
        while day < end:
            out[("d", day)] += sign
            day += timedelta(days=1)

    def walk(start: date, end: date, sign: int, grains: str) -> None:
        if start >= end:
            return
        if not grains:
            days(start, end, sign)
            return
        grain, finer = grains[0], grains[1:]
        at = start
        while at < end:
            unit_start, unit_end = _unit(grain, at)
            stored_end = min(unit_end, rolled)
            part_end = min(end, stored_end)
            inside = (part_end - at).days
            outside = (stored_end - unit_start).days - inside
            if outside == 0:
                out[(grain, unit_start)] += sign
            elif outside < inside:  # the whole unit, less what lies outside the range
                out[(grain, unit_start)] += sign
                walk(unit_start, at, -sign, finer)
                walk(part_end, stored_end, -sign, finer)
            else:
                walk(at, part_end, sign, finer)
            at = unit_end

    walk(first, last, 1, grains)
    return {period: sign for period, sign in out.items() if sign}


def report_facts(
    session: Session, flt: ReportFilter, by: Sequence[str], measures: Sequence[str] | None = None
) -> Facts:
    """The facts of ``flt`` summed by the dimensions ``by`` (module rules)."""
    unknown = set(by) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"unknown report dimension(s): {sorted(unknown)}")
    facts = Facts(by)
    measures = list(measures) if measures is not None else [*COUNTS, *HISTOGRAMS, *REASONS]
    rolled = state(session)
    raw: list[Window] = [(flt.since, flt.until)]
    if rolled is not None and rolled.rolled_until is not None:
        first = _first_whole_day(flt.since) if flt.since else _first_stored(session)
        last = min(day_of(flt.until), rolled.rolled_until) if flt.until else rolled.rolled_until
        if first is not None and first < last:
            cube = cube_for(_wanted(by, flt))
            periods = cover(first, last, rolled.rolled_until, "ym" if cube else "")
            dirty = sorted(d for d in dirty_days(session, rolled.watermark) if first <= d < last)
            for day in dirty:
                periods[("d", day)] = periods.get(("d", day), 0) - 1
            periods = {p: sign for p, sign in periods.items() if sign}
            _summed(session, facts, flt, periods, measures, cube)
            raw = _windows(dirty)
            if flt.since is None or start_of(first) > flt.since:  # before the first stored day too
                raw.append((flt.since, start_of(first)))
            if flt.until is None or start_of(last) < flt.until:
                raw.append((start_of(last), flt.until))
    for fact in raw_facts(session, [w for w in raw if w[0] is None or w[1] is None or w[0] < w[1]], flt):
        if fact.measure in measures:
            facts.add_fact(fact)
    return facts


def _wanted(by: Sequence[str], flt: ReportFilter) -> list[str]:
    """The dimensions a report groups and filters by."""
    filtered = (("campaign", flt.campaign), ("country", flt.country), ("partner_id", flt.partner_id))
    return [*by, *(name for name, value in filtered if value is not None)]


def _first_stored(session: Session) -> date | None:
    table = ReportCellRow
    return session.execute(
        select(func.min(table.period)).where(table.cube == DAY_CUBE, table.grain == "d")
    ).scalar()


def _signed(periods: dict[Period, int], cube: str | None) -> tuple[ColumnElement[bool], Any]:
    """The condition selecting ``periods``' cells (years and months of ``cube``, days of the day
    cube) and each cell's sign."""
    table = ReportCellRow
    where: list[ColumnElement[bool]] = []
    signs: list[tuple[ColumnElement[bool], int]] = []
    for grain in ("y", "m", "d"):
        owner = DAY_CUBE if grain == "d" else cube
        for sign in (1, -1):
            chosen = sorted(p for (g, p), s in periods.items() if g == grain and s == sign)
            if chosen:
                condition = and_(table.cube == owner, table.grain == grain, table.period.in_(chosen))
                where.append(condition)
                signs.append((condition, sign))
    if not where:
        return false(), 1
    return or_(*where), case(*signs, else_=0)


def _summed(
    session: Session,
    facts: Facts,
    flt: ReportFilter,
    periods: dict[Period, int],
    measures: Sequence[str],
    cube: str | None,
) -> None:
    table = ReportCellRow
    chosen, sign = _signed(periods, cube)
    filters: list[ColumnElement[bool]] = [chosen]
    if flt.campaign is not None:
        filters.append(table.campaign == flt.campaign)
    if flt.country is not None:
        filters.append(table.country == flt.country.upper())
    if flt.partner_id is not None:
        filters.append(table.partner_id == flt.partner_id)
    dims: list[Any] = [getattr(table, d) for d in facts.by]
    counted = [m for m in COUNTS if m in measures]
    if counted:
        sums: list[Any] = [func.sum(sign * getattr(table, column_of(m))) for m in counted]
        sums += [func.sum(sign * getattr(table, column)) for column in AMOUNTS.values()]
        for row in session.execute(select(*dims, *sums).where(*filters).group_by(*dims)):
            key, figures = tuple(row[: len(dims)]), row[len(dims) :]
            amounts = dict(zip(AMOUNTS.values(), figures[len(counted) :], strict=True))
            for measure, n in zip(counted, figures[: len(counted)], strict=True):
                if n:
                    amount = (
                        money(Decimal(str(amounts[AMOUNTS[measure]] or 0)))
                        if measure in AMOUNTS
                        else Decimal("0.00")
                    )
                    facts.add((*key, measure, ""), int(n), amount)
    hists = [m for m in HISTOGRAMS if m in measures]
    reasons = [m for m in REASONS if m in measures]
    if not hists and not reasons:
        return
    columns: list[Any] = [getattr(table, m) for m in hists] + [getattr(table, REASONS[m]) for m in reasons]
    present = or_(*(c.is_not(None) for c in columns))
    totals: dict[tuple[Any, ...], dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )
    for row in session.execute(select(*dims, sign, *columns).where(*filters, present)):
        key_t, row_sign, values = tuple(row[: len(dims)]), row[len(dims)], row[len(dims) + 1 :]
        for measure, data in zip(hists, values, strict=False):
            if data:
                facts.hist(key_t, measure).merge(Hist.from_bytes(data), row_sign)
        for measure, data in zip(reasons, values[len(hists) :], strict=True):
            if data:
                summed = totals[key_t][measure]
                for code, n in json.loads(data).items():
                    summed[code] += row_sign * n
    for key_t, by_measure in totals.items():
        for measure, codes in by_measure.items():
            for code, n in codes.items():
                if n:
                    facts.add((*key_t, measure, code), n, Decimal("0.00"))
