"""Partner performance stats aggregated by the database, for routing passes.

``performance.compute_stats`` states the rules over offers and events held in memory; this module
computes the same ``StatsTable`` with GROUP BY queries, so a routing pass costs a few aggregate
queries however many offers the manufacturer has made over the years, instead of loading them all.
Only accepted offers' two timestamps (for the median accept time) and return events' reasons are
read row by row. ``tests/core/test_stats_query.py`` checks both agree on random histories.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, exists, func, select
from sqlalchemy.orm import Session

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import OfferStatus
from leadbridge.core.performance import StatsTable, stats_table
from leadbridge.core.policy import POOL_MODES, Performance
from leadbridge.core.reasons import NOT_A_LEAD
from leadbridge.core.store.tables import LeadEventRow, OfferRow

_REACHED = (OfferStatus.PENDING.value, OfferStatus.ACCEPTED.value, OfferStatus.RETURNED.value)
_ACCEPTED = (OfferStatus.ACCEPTED.value, OfferStatus.RETURNED.value)


def _windows(now: datetime) -> tuple[datetime, datetime, datetime]:
    """Starts of the current UTC day, ISO week (Monday) and month."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day, day - timedelta(days=day.weekday()), day.replace(day=1)


def load_stats(session: Session, config: Performance, *, now: datetime) -> StatsTable:
    """Every partner's stats, per the rules of ``performance.compute_stats``."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    day, week, month = _windows(now)
    next_day, next_week = day + timedelta(days=1), week + timedelta(days=7)
    next_month = (month + timedelta(days=32)).replace(day=1)

    def within(start: datetime, end: datetime) -> ColumnElement[int]:
        return func.sum(case((and_(OfferRow.offered_at >= start, OfferRow.offered_at < end), 1), else_=0))

    not_a_lead = func.sum(case((OfferRow.reason_code == NOT_A_LEAD, 1), else_=0))
    per_status = select(
        OfferRow.partner_id,
        OfferRow.status,
        OfferRow.mode,
        func.count(),
        within(day, next_day),
        within(week, next_week),
        within(month, next_month),
        not_a_lead,
    ).group_by(OfferRow.partner_id, OfferRow.status, OfferRow.mode)
    for partner_id, status, mode, total, today, this_week, this_month, bad_leads in session.execute(
        per_status
    ):
        c = counts[partner_id]
        c["offers"] += total
        if status in _ACCEPTED:
            c["accepted"] += total
        elif status == OfferStatus.DECLINED.value:
            c["declined"] += total - int(bad_leads or 0)  # not-a-lead declines: see performance
        elif status == OfferStatus.EXPIRED.value and mode not in POOL_MODES:
            c["expired"] += total
        elif status == OfferStatus.PENDING.value and mode not in POOL_MODES:
            c["pending"] += total
        if status in _REACHED and not (mode in POOL_MODES and status == OfferStatus.PENDING.value):
            c["today"] += int(today or 0)
            c["this_week"] += int(this_week or 0)
            c["this_month"] += int(this_month or 0)
        if mode == "round_robin":
            c["round_robin"] += int(this_month or 0)

    accept_hours = _median_inputs(session)

    # Open leads: leads a partner accepted and has not yet won or lost.
    outcome = exists().where(
        LeadEventRow.lead_id == OfferRow.lead_id,
        LeadEventRow.partner_id == OfferRow.partner_id,
        LeadEventRow.kind.in_([EventKind.WIN.value, EventKind.LOSE.value]),
    )
    holding_query = (
        select(OfferRow.partner_id, func.count(func.distinct(OfferRow.lead_id)))
        .where(OfferRow.status == OfferStatus.ACCEPTED.value, ~outcome)
        .group_by(OfferRow.partner_id)
    )
    holding = {partner_id: int(n) for partner_id, n in session.execute(holding_query)}

    outcomes = (
        select(LeadEventRow.partner_id, LeadEventRow.kind, func.count())
        .where(
            LeadEventRow.kind.in_([EventKind.WIN.value, EventKind.LOSE.value]),
            LeadEventRow.partner_id.is_not(None),
        )
        .group_by(LeadEventRow.partner_id, LeadEventRow.kind)
    )
    for event_partner, kind, total in session.execute(outcomes):
        counts[event_partner or ""]["won" if kind == EventKind.WIN.value else "lost"] += total
    returns: dict[str, Counter[str]] = defaultdict(Counter)
    returned = select(LeadEventRow.partner_id, LeadEventRow.payload).where(
        LeadEventRow.kind == EventKind.RETURN.value, LeadEventRow.partner_id.is_not(None)
    )
    for event_partner, payload in session.execute(returned):
        partner_id = event_partner or ""
        counts[partner_id]["returned"] += 1
        returns[partner_id][str((payload or {}).get("reason_code") or "unknown")] += 1

    return stats_table(counts, accept_hours, holding, returns, config)


def _median_inputs(session: Session) -> dict[str, list[float]]:
    """Per partner, hours from offer to accept of accepted (or later returned) offers — all of them,
    or, on PostgreSQL, only the one or two middle ones, which give the same median: the database
    ranks the waits per partner, so a pass reads two rows per partner instead of every accepted
    offer in the manufacturer's history."""
    wait = OfferRow.decided_at - OfferRow.offered_at
    decided = (OfferRow.status.in_(_ACCEPTED), OfferRow.decided_at.is_not(None))
    hours: dict[str, list[float]] = defaultdict(list)
    bind = session.get_bind()
    if bind.dialect.name != "postgresql":  # SQLite stores times as text: no exact interval order
        query = select(OfferRow.partner_id, OfferRow.offered_at, OfferRow.decided_at).where(*decided)
    else:
        ranked = (
            select(
                OfferRow.partner_id,
                OfferRow.offered_at,
                OfferRow.decided_at,
                func.row_number().over(partition_by=OfferRow.partner_id, order_by=wait).label("rank"),
                func.count().over(partition_by=OfferRow.partner_id).label("total"),
            )
            .where(*decided)
            .subquery()
        )
        # the middle row (odd count) or the two middle rows (even count), ranks counted from 1
        query = select(ranked.c.partner_id, ranked.c.offered_at, ranked.c.decided_at).where(
            ranked.c.rank.in_([(ranked.c.total + 1) // 2, (ranked.c.total + 2) // 2])
        )
    for partner_id, offered_at, decided_at in session.execute(query):
        if decided_at is not None:  # filtered in SQL; the check keeps the types honest
            hours[partner_id].append((decided_at - offered_at).total_seconds() / 3600)
    return hours
