"""Region and product-line views: the same lead funnel grouped by the lead's country or product.

Rules (see ``window.py`` for the range and filters):
- leads: leads created in the range; won, lost and revenue: win and loss events in the range;
- conversion = won / (won + lost);
- region = the lead's country (``None`` when unknown); product = each of the lead's product
  interests — a lead interested in two products counts once under each (the product rows may sum
  to more than the leads), and a lead with none counts under ``None``;
- the database groups by the lead's list of products (few distinct lists), which is then split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.reports.window import ReportFilter, amount_of, money, ratio
from leadbridge.core.store.tables import LeadEventRow, LeadRow


@dataclass
class DimensionRow:
    """One region's or product's figures (module rules)."""

    key: str | None
    leads: int = 0
    won: int = 0
    lost: int = 0
    revenue: Decimal = Decimal("0.00")

    @property
    def conversion(self) -> float | None:
        return ratio(self.won, self.won + self.lost)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "leads": self.leads,
            "won": self.won,
            "lost": self.lost,
            "revenue": str(self.revenue),
            "conversion": self.conversion,
        }


def _grouped(
    session: Session,
    flt: ReportFilter,
    key: Any,  # a column or expression on LeadRow
    split: Callable[[Any], Iterable[str | None]],
) -> list[DimensionRow]:
    rows: dict[str | None, DimensionRow] = {}

    def add(raw: Any, **figures: Any) -> None:
        for k in split(raw):
            row = rows.setdefault(k, DimensionRow(k))
            for name, value in figures.items():
                setattr(row, name, getattr(row, name) + value)

    leads = select(key, func.count()).where(flt.within(LeadRow.created_at), flt.on_lead())
    if flt.partner_id:
        leads = leads.where(LeadRow.partner_id == flt.partner_id)
    for raw, total in session.execute(leads.group_by(key)):
        add(raw, leads=int(total))
    outcomes = (
        select(key, LeadEventRow.kind, func.count(), func.sum(amount_of()))
        .join(LeadRow, LeadRow.id == LeadEventRow.lead_id)
        .where(
            LeadEventRow.kind.in_([EventKind.WIN.value, EventKind.LOSE.value]),
            flt.within(LeadEventRow.occurred_at),
            flt.on_lead(),
        )
    )
    if flt.partner_id:
        outcomes = outcomes.where(LeadEventRow.partner_id == flt.partner_id)
    for raw, kind, total, amount in session.execute(outcomes.group_by(key, LeadEventRow.kind)):
        if kind == EventKind.WIN.value:
            add(raw, won=int(total), revenue=money(amount))
        else:
            add(raw, lost=int(total))
    return sorted(rows.values(), key=lambda r: (r.key is None, -r.revenue, -r.won, r.key or ""))


def region_view(session: Session, flt: ReportFilter | None = None) -> list[DimensionRow]:
    """Leads, outcomes and revenue by the lead's country (module rules)."""
    return _grouped(session, flt or ReportFilter(), LeadRow.country, lambda country: [country])


def _products(raw: Any) -> list[str | None]:
    products = [str(p) for p in raw if p] if isinstance(raw, list) else []
    return list(dict.fromkeys(products)) or [None]


def product_view(session: Session, flt: ReportFilter | None = None) -> list[DimensionRow]:
    """Leads, outcomes and revenue by product interest (module rules)."""
    return _grouped(session, flt or ReportFilter(), LeadRow.data["product_interests"], _products)
