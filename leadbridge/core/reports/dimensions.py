"""Region and product-line views: the same lead funnel grouped by the lead's country or product.

Rules (see ``window.py`` for the range and filters):
- leads: leads created in the range; won, lost and revenue: win and loss events in the range;
- conversion = won / (won + lost);
- region = the lead's country (``None`` when unknown); product = each of the lead's product
  interests — a lead interested in two products counts once under each (the product rows may sum
  to more than the leads), and a lead with none counts under ``None``;
- the facts are summed by the lead's list of products (few distinct lists), which is then split.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from leadbridge.core.reports.facts import products_of
from leadbridge.core.reports.read import report_facts
from leadbridge.core.reports.window import ReportFilter, money, ratio


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
    by: str,  # a fact dimension
    split: Callable[[Any], Iterable[str | None]],
) -> list[DimensionRow]:
    rows: dict[str | None, DimensionRow] = {}
    for (raw, measure, _code), n, amount in report_facts(
        session, flt, (by,), ("leads", "won", "lost")
    ).items():
        for key in split(raw):
            row = rows.setdefault(key, DimensionRow(key))
            if measure == "leads":
                row.leads += n
            elif measure == "won":
                row.won += n
                row.revenue = money(row.revenue + amount)
            else:
                row.lost += n
    return sorted(rows.values(), key=lambda r: (r.key is None, -r.revenue, -r.won, r.key or ""))


def region_view(session: Session, flt: ReportFilter | None = None) -> list[DimensionRow]:
    """Leads, outcomes and revenue by the lead's country (module rules)."""
    return _grouped(session, flt or ReportFilter(), "country", lambda country: [country])


def product_view(session: Session, flt: ReportFilter | None = None) -> list[DimensionRow]:
    """Leads, outcomes and revenue by product interest (module rules)."""
    return _grouped(session, flt or ReportFilter(), "products", products_of)
