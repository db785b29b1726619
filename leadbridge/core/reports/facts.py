"""Report facts: every report figure as a count (and a sum) of what happened, by partner, campaign,
region and product — the one vocabulary the daily pre-aggregates store and the reports read.

Rules (each figure counts what *happened* in a window, see ``window.py``):
- a fact is ``(partner_id, campaign, country, products, measure, code) → n, amount``; campaign,
  country and products are the lead's, ``products`` its product interests as one key
  (``product_key``), ``partner_id`` the partner the figure belongs to:
  - ``leads``: leads created in the window, by the partner holding them now;
  - by the offer's partner and ``offered_at``: ``offers``, ``accepted`` (accepted or later returned),
    ``declined``, ``not_a_lead`` (declined as not a lead), ``expired`` (not pool listings),
    ``sla_due`` and ``sla_met`` (see ``scorecard.py``), ``accept_hours`` — one fact per
    time-to-accept bucket (``code``, see ``hours.py``) — and ``contact_hours``: of an accepted offer,
    the hours from accepting to the partner's first contact — its first ``status`` or ``note`` (not
    a rating) on the lead from then on, as the SLA counts activity (``sla.py``); an offer with no contact yet
    has no such fact (the contact, when it comes, updates the lead and so its days);
  - by the event's partner and ``occurred_at``: ``won`` (amount = revenue), ``lost`` and
    ``returned`` (code = reason), ``rating`` (amount = the sum of the ratings);
- facts add up: the facts of two windows are the facts of their union (what lets whole days be
  pre-aggregated and summed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import OfferStatus
from leadbridge.core.policy import POOL_MODES
from leadbridge.core.reasons import NOT_A_LEAD
from leadbridge.core.reports.hours import Hist, bucket_of
from leadbridge.core.reports.window import ReportFilter, amount_of, money
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow

DIMENSIONS = ("partner_id", "campaign", "country", "products")
ACCEPTED = (OfferStatus.ACCEPTED.value, OfferStatus.RETURNED.value)
ANSWERED = (*ACCEPTED, OfferStatus.DECLINED.value)
OFFER_MEASURES = ("offers", "accepted", "declined", "not_a_lead", "expired", "sla_due", "sla_met")
HISTOGRAMS = ("accept_hours", "contact_hours")
OUTCOMES = {EventKind.WIN.value: "won", EventKind.LOSE.value: "lost", EventKind.RETURN.value: "returned"}

Key = tuple[Any, ...]  # the chosen dimensions' values, then measure and code
Window = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Fact:
    """One counted figure (module rules)."""

    partner_id: str | None
    campaign: str | None
    country: str | None
    products: str
    measure: str
    code: str
    n: int
    amount: Decimal
    day: date | None = None  # the UTC day it happened on, when read by day (``raw_facts``)


def product_key(raw: Any) -> str:
    """A lead's product interests as one key: distinct names, sorted, joined by ``|`` ("" for none)."""
    products = sorted({str(p) for p in raw if p}) if isinstance(raw, list) else []
    return "|".join(products)


def products_of(key: str | None) -> list[str | None]:
    """The products of a ``product_key`` (``[None]`` for a lead without any)."""
    return list(key.split("|")) if key else [None]


class Facts:
    """Facts summed by some dimensions: ``{(dimension values…, measure, code): [n, amount]}``; the
    duration buckets (``HISTOGRAMS``) as histograms: ``hists[(dimension values…)][measure]``."""

    def __init__(self, by: Sequence[str]) -> None:
        self.by = tuple(by)
        self.cells: dict[Key, list[Any]] = defaultdict(lambda: [0, Decimal("0.00")])
        self.hists: dict[Key, dict[str, Hist]] = defaultdict(dict)

    def hist(self, key: Key, measure: str) -> Hist:
        """The histogram of ``measure`` for the dimension values ``key`` (empty at first)."""
        found = self.hists[key].get(measure)
        if found is None:
            found = self.hists[key][measure] = Hist()
        return found

    def add(self, key: Key, n: int, amount: Decimal) -> None:
        cell = self.cells[key]
        cell[0] += n
        cell[1] += amount

    def add_fact(self, fact: Fact) -> None:
        if fact.measure in HISTOGRAMS:
            self.hist(tuple(getattr(fact, d) for d in self.by), fact.measure).add(int(fact.code), fact.n)
            return
        self.add((*(getattr(fact, d) for d in self.by), fact.measure, fact.code), fact.n, fact.amount)

    def items(self) -> Iterable[tuple[Key, int, Decimal]]:
        for key, (n, amount) in self.cells.items():
            yield key, n, amount


def _during(column: InstrumentedAttribute[datetime], windows: Sequence[Window]) -> ColumnElement[bool]:
    parts = []
    for start, end in windows:
        bounds = [
            c for c in (column >= start if start else None, column < end if end else None) if c is not None
        ]
        parts.append(and_(*bounds) if bounds else column.is_not(None))
    return or_(*parts) if parts else false()


def _hours_between(start: Any, end: Any) -> float:
    """Hours from ``start`` to ``end`` (SQLite hands back a scalar subquery's time as text)."""
    first, last = (datetime.fromisoformat(t) if isinstance(t, str) else t for t in (start, end))
    first, last = (t if t.tzinfo else t.replace(tzinfo=UTC) for t in (first, last))
    return max(0.0, (last - first).total_seconds() / 3600)


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _hours_to_accept(session: Session) -> Any:
    """Hours from offer to decision as a number the database computes (no timestamps to parse)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(OfferRow.decided_at) - func.julianday(OfferRow.offered_at)) * 24
    return func.extract("epoch", OfferRow.decided_at - OfferRow.offered_at) / 3600


_LEAD_DIMS = (LeadRow.campaign, LeadRow.country, LeadRow.data["product_interests"])


def _day(session: Session, column: Any) -> Any:
    """The UTC day of a timestamp column, computed by the database (to group by)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.date(column)  # stored as naive UTC text
    return func.date(func.timezone("UTC", column))


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def raw_facts(
    session: Session, windows: Sequence[Window], flt: ReportFilter | None = None, *, by_day: bool = False
) -> list[Fact]:
    """The facts of ``windows`` read from the leads, offers and events themselves (module rules),
    narrowed to ``flt``'s lead and partner filters (its range is not applied: ``windows`` is);
    with ``by_day`` each fact carries its UTC day (one query per kind for many days)."""
    flt = flt or ReportFilter()
    if not windows:
        return []
    facts: list[Fact] = []

    def fact(
        day: Any,
        partner: Any,
        campaign: Any,
        country: Any,
        raw: Any,
        measure: str,
        code: Any,
        n: Any,
        amount: Any = 0,
    ) -> None:
        if n:
            facts.append(
                Fact(
                    partner,
                    campaign,
                    country,
                    product_key(raw),
                    measure,
                    str(code or ""),
                    int(n),
                    money(amount),
                    _as_date(day),
                )
            )

    def days(column: Any) -> list[Any]:
        """The day column to select and group by (a constant when not by day)."""
        return [_day(session, column)] if by_day else []

    def unpack(row: Any) -> tuple[Any, list[Any]]:
        values = list(row)
        return (values.pop(0) if by_day else None), values

    lead_day = days(LeadRow.created_at)
    leads = select(*lead_day, LeadRow.partner_id, *_LEAD_DIMS, func.count()).where(
        _during(LeadRow.created_at, windows), flt.on_lead()
    )
    if flt.partner_id:
        leads = leads.where(LeadRow.partner_id == flt.partner_id)
    for row in session.execute(leads.group_by(*lead_day, LeadRow.partner_id, *_LEAD_DIMS)):
        day, (partner, campaign, country, raw, total) = unpack(row)
        fact(day, partner, campaign, country, raw, "leads", "", total)

    offer_day = days(OfferRow.offered_at)

    def offer_query(*columns: Any) -> Any:
        query = (
            select(*offer_day, OfferRow.partner_id, *_LEAD_DIMS, *columns)
            .join(LeadRow, LeadRow.id == OfferRow.lead_id)
            .where(_during(OfferRow.offered_at, windows), flt.on_lead())
        )
        return query.where(OfferRow.partner_id == flt.partner_id) if flt.partner_id else query

    status, deadline, decided = OfferRow.status, OfferRow.deadline, OfferRow.decided_at
    unpooled_expiry = and_(status == OfferStatus.EXPIRED.value, OfferRow.mode.not_in(POOL_MODES))
    counts = offer_query(
        func.count(),
        _count(status.in_(ACCEPTED)),
        _count(status == OfferStatus.DECLINED.value),
        _count(and_(status == OfferStatus.DECLINED.value, OfferRow.reason_code == NOT_A_LEAD)),
        _count(unpooled_expiry),
        _count(and_(deadline.is_not(None), or_(status.in_(ANSWERED), unpooled_expiry))),
        _count(and_(deadline.is_not(None), status.in_(ANSWERED), decided <= deadline)),
    ).group_by(*offer_day, OfferRow.partner_id, *_LEAD_DIMS)
    for row in session.execute(counts):
        day, (partner, campaign, country, raw, *figures) = unpack(row)
        for measure, value in zip(OFFER_MEASURES, figures, strict=True):
            fact(day, partner, campaign, country, raw, measure, "", value or 0)

    # Percentiles do not add up; buckets of time to accept do (``hours.py``).
    hours = offer_query(_hours_to_accept(session)).where(status.in_(ACCEPTED), decided.is_not(None))
    buckets: dict[Key, int] = defaultdict(int)
    for row in session.execute(hours):
        day, (partner, campaign, country, raw, value) = unpack(row)
        buckets[(day, partner, campaign, country, product_key(raw), bucket_of(float(value)))] += 1
    facts.extend(_bucket_facts(buckets, "accept_hours"))

    note_type = LeadEventRow.payload["type"].as_string()
    contact = (
        select(func.min(LeadEventRow.occurred_at))
        .where(
            LeadEventRow.lead_id == OfferRow.lead_id,
            LeadEventRow.partner_id == OfferRow.partner_id,
            or_(
                LeadEventRow.kind == EventKind.STATUS.value,
                and_(LeadEventRow.kind == EventKind.NOTE.value, func.coalesce(note_type, "") != "rating"),
            ),
            LeadEventRow.occurred_at >= OfferRow.decided_at,
        )
        .scalar_subquery()
    )
    contacts = offer_query(OfferRow.decided_at, contact).where(status.in_(ACCEPTED), decided.is_not(None))
    buckets.clear()
    for row in session.execute(contacts):
        day, (partner, campaign, country, raw, accepted_at, contacted_at) = unpack(row)
        if contacted_at is not None:
            code = bucket_of(_hours_between(accepted_at, contacted_at))
            buckets[(day, partner, campaign, country, product_key(raw), code)] += 1
    facts.extend(_bucket_facts(buckets, "contact_hours"))

    event_day = days(LeadEventRow.occurred_at)

    def event_query(*columns: Any) -> Any:
        query = (
            select(*event_day, LeadEventRow.partner_id, *_LEAD_DIMS, *columns)
            .join(LeadRow, LeadRow.id == LeadEventRow.lead_id)
            .where(_during(LeadEventRow.occurred_at, windows), flt.on_lead())
        )
        return query.where(LeadEventRow.partner_id == flt.partner_id) if flt.partner_id else query

    reason = LeadEventRow.payload["reason_code"].as_string()
    outcomes = event_query(LeadEventRow.kind, reason, func.count(), func.sum(amount_of())).where(
        LeadEventRow.kind.in_(list(OUTCOMES))
    )
    for row in session.execute(
        outcomes.group_by(*event_day, LeadEventRow.partner_id, *_LEAD_DIMS, LeadEventRow.kind, reason)
    ):
        day, (partner, campaign, country, raw, kind, code, total, amount) = unpack(row)
        measure = OUTCOMES[kind]
        fact(day, partner, campaign, country, raw, measure, "" if measure == "won" else code, total, amount)

    rating = LeadEventRow.payload["rating"].as_integer()
    ratings = event_query(func.count(), func.sum(rating)).where(
        LeadEventRow.kind == EventKind.NOTE.value, LeadEventRow.payload["type"].as_string() == "rating"
    )
    for row in session.execute(ratings.group_by(*event_day, LeadEventRow.partner_id, *_LEAD_DIMS)):
        day, (partner, campaign, country, raw, total, summed) = unpack(row)
        fact(day, partner, campaign, country, raw, "rating", "", total, summed)
    return facts


def _bucket_facts(buckets: dict[Key, int], measure: str) -> list[Fact]:
    """One fact per (day, partner, campaign, country, products, bucket) counted in ``buckets``."""
    return [
        Fact(partner, campaign, country, key, measure, str(code), total, Decimal("0.00"), _as_date(day))
        for (day, partner, campaign, country, key, code), total in buckets.items()
    ]
