"""The time range and lead filters every report takes, and the helpers that apply them.

Rules:
- the range is half-open, ``[since, until)``, in UTC; either end may be open;
- offers count by ``offered_at``, outcomes (win, loss, return, rating) by the event's
  ``occurred_at``, leads by ``created_at`` — each figure counts what *happened* in the range;
- ``campaign`` and ``country`` filter on the lead; ``partner_id`` on the offer or event's partner.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Float, Select, and_, cast, true
from sqlalchemy.orm import InstrumentedAttribute

from leadbridge.core.store.tables import LeadEventRow, LeadRow

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class ReportFilter:
    """What a report covers (module rules)."""

    since: datetime | None = None
    until: datetime | None = None
    campaign: str | None = None
    country: str | None = None
    partner_id: str | None = None

    def within(self, column: InstrumentedAttribute[datetime]) -> ColumnElement[bool]:
        """``column`` in ``[since, until)``."""
        parts: list[ColumnElement[bool]] = []
        if self.since is not None:
            parts.append(column >= self.since)
        if self.until is not None:
            parts.append(column < self.until)
        return and_(true(), *parts)

    def on_lead(self) -> ColumnElement[bool]:
        """The lead filters (campaign, country) as a condition on ``LeadRow``."""
        parts: list[ColumnElement[bool]] = []
        if self.campaign is not None:
            parts.append(LeadRow.campaign == self.campaign)
        if self.country is not None:
            parts.append(LeadRow.country == self.country.upper())
        return and_(true(), *parts)

    @property
    def filters_leads(self) -> bool:
        return self.campaign is not None or self.country is not None


def day_start(day: date | datetime | None) -> datetime | None:
    """A date as the start of its UTC day (a CLI ``--until 2026-11-30`` excludes that day)."""
    if day is None:
        return None
    if isinstance(day, datetime):
        return day if day.tzinfo else day.replace(tzinfo=UTC)
    return datetime.combine(day, time(), tzinfo=UTC)


def amount_of(event: type[LeadEventRow] = LeadEventRow) -> ColumnElement[float]:
    """A win event's ``amount`` (a decimal string in the payload) as a number SQL can sum."""
    return cast(event.payload["amount"].as_string(), Float)


def money(value: float | Decimal | None) -> Decimal:
    """A summed amount rounded to cents (sums come back as floats on SQLite)."""
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to divide by."""
    return part / whole if whole else None


def percentile(values: Sequence[float], share: float) -> float | None:
    """The ``share`` percentile by linear interpolation between closest ranks (None when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median_of(values: Sequence[float | None]) -> float | None:
    """The median of the values that are known (None when none are)."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def with_lead_filter(query: _Query, flt: ReportFilter, lead_id: Any) -> _Query:
    """``query`` joined to the lead and filtered by campaign/country, when the filter asks."""
    if not flt.filters_leads:
        return query
    return query.join(LeadRow, LeadRow.id == lead_id).where(flt.on_lead())
