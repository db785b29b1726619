"""Pre-aggregated report cells: the facts (``facts.py``) of one period summed by a few dimensions,
one wide row per cell.

Rules:
- a *cube* is a set of dimensions (``CUBES``); a cell is one combination of their values in one
  period; the dimensions a cube leaves out are stored as NULL;
- grains: ``d`` (a UTC day) only in the cube ``all`` (every dimension); ``m`` (a calendar month)
  and ``y`` (a year) in the other cubes (``COARSE``). A month cell is the sum of its month's day
  cells, a year cell the sum of its month cells (``rollup.py`` keeps them so), which is what lets a
  reader add and subtract them (``read.py``);
- a cell holds every count of the fact vocabulary as a column, the summed amounts (revenue,
  ratings), the time-to-accept and time-to-contact histograms (``hours.Hist``, bytes) and the lost
  and return reasons (``{code: n}`` as JSON); the lost and returned totals are the sums of their
  reasons;
- a report reads the smallest cube that holds every dimension it groups or filters by (``cube_for``);
  a combination no cube holds (a partner and a product, a campaign and a country with partners)
  is read from the day cells alone — exact, but slower over long ranges.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, Index, Integer, LargeBinary, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadbridge.core.reports.facts import DIMENSIONS, HISTOGRAMS, Fact
from leadbridge.core.reports.hours import Hist
from leadbridge.core.store.tables import Base

# Smallest first: a report reads the first cube that holds its dimensions.
CUBES: dict[str, tuple[str, ...]] = {
    "p": ("partner_id",),
    "ckx": ("campaign", "country", "products"),
    "pk": ("partner_id", "country"),
    "pc": ("partner_id", "campaign"),
    "all": DIMENSIONS,
}
DAY_CUBE = "all"
COARSE = tuple(cube for cube in CUBES if cube != DAY_CUBE)  # the cubes with month and year cells
COUNTS = (
    "leads",
    "offers",
    "accepted",
    "declined",
    "not_a_lead",
    "expired",
    "sla_due",
    "sla_met",
    "won",
    "rating",
)
AMOUNTS = {"won": "revenue", "rating": "rating_sum"}
REASONS = {"lost": "lost_reasons", "returned": "return_reasons"}
_COLUMN = {"rating": "ratings"}  # measure -> column, where they differ


def column_of(measure: str) -> str:
    return _COLUMN.get(measure, measure)


class ReportCellRow(Base):
    """One cell (module rules)."""

    __tablename__ = "report_cells"
    __table_args__ = (Index("ix_report_cells_period", "cube", "grain", "period"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cube: Mapped[str] = mapped_column(String(8))
    grain: Mapped[str] = mapped_column(String(1))
    period: Mapped[date] = mapped_column(Date)
    partner_id: Mapped[str | None] = mapped_column(String(40))
    campaign: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    products: Mapped[str | None] = mapped_column(String(500))
    leads: Mapped[int] = mapped_column(Integer, default=0)
    offers: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    declined: Mapped[int] = mapped_column(Integer, default=0)
    not_a_lead: Mapped[int] = mapped_column(Integer, default=0)
    expired: Mapped[int] = mapped_column(Integer, default=0)
    sla_due: Mapped[int] = mapped_column(Integer, default=0)
    sla_met: Mapped[int] = mapped_column(Integer, default=0)
    won: Mapped[int] = mapped_column(Integer, default=0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    rating_sum: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)
    accept_hours: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_hours: Mapped[bytes | None] = mapped_column(LargeBinary)
    lost_reasons: Mapped[str | None] = mapped_column(Text)
    return_reasons: Mapped[str | None] = mapped_column(Text)


class Cell:
    """A cell's figures while they are summed (module rules)."""

    __slots__ = ("amounts", "counts", "hists", "reasons")

    def __init__(self) -> None:
        self.counts = [0] * len(COUNTS)
        self.amounts = {name: Decimal("0.00") for name in AMOUNTS.values()}
        self.hists = {measure: Hist() for measure in HISTOGRAMS}
        self.reasons: dict[str, dict[str, int]] = {measure: {} for measure in REASONS}

    def add_fact(self, fact: Fact) -> None:
        if fact.measure in HISTOGRAMS:
            self.hists[fact.measure].add(int(fact.code), fact.n)
        elif fact.measure in REASONS:
            reasons = self.reasons[fact.measure]
            reasons[fact.code] = reasons.get(fact.code, 0) + fact.n
        else:
            self.counts[_INDEX[fact.measure]] += fact.n
            if fact.measure in AMOUNTS:
                self.amounts[AMOUNTS[fact.measure]] += fact.amount

    def merge(self, other: Cell) -> None:
        self.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        for name, amount in other.amounts.items():
            self.amounts[name] += amount
        for measure, hist in other.hists.items():
            self.hists[measure].merge(hist)
        for measure, reasons in other.reasons.items():
            mine = self.reasons[measure]
            for code, n in reasons.items():
                mine[code] = mine.get(code, 0) + n

    def values(self) -> dict[str, Any]:
        """The cell as column values."""
        data: dict[str, Any] = {column_of(m): n for m, n in zip(COUNTS, self.counts, strict=True)}
        data |= self.amounts
        data |= {measure: hist.to_bytes() for measure, hist in self.hists.items()}
        for measure, column in REASONS.items():
            kept = {code: n for code, n in self.reasons[measure].items() if n}
            data[column] = json.dumps(kept, sort_keys=True) if kept else None
        return data

    @classmethod
    def of_row(cls, row: Any) -> Cell:
        cell = cls()
        cell.counts = [getattr(row, column_of(m)) or 0 for m in COUNTS]
        cell.amounts = {name: Decimal(str(getattr(row, name) or 0)) for name in AMOUNTS.values()}
        cell.hists = {measure: Hist.from_bytes(getattr(row, measure)) for measure in HISTOGRAMS}
        cell.reasons = {
            measure: json.loads(getattr(row, column)) if getattr(row, column) else {}
            for measure, column in REASONS.items()
        }
        return cell


_INDEX = {measure: i for i, measure in enumerate(COUNTS)}

Cells = dict[tuple[Any, ...], Cell]  # the cube's dimension values -> figures


def project(cells: Iterable[tuple[tuple[Any, ...], Cell]], cube: str) -> Cells:
    """Cells of every dimension (``DIMENSIONS`` order) summed into ``cube``'s cells."""
    positions = [DIMENSIONS.index(d) for d in CUBES[cube]]
    out: Cells = {}
    for key, cell in cells:
        target = tuple(key[i] for i in positions)
        found = out.get(target)
        if found is None:
            found = out[target] = Cell()
        found.merge(cell)
    return out


def rows_of(cube: str, grain: str, period: date, cells: Cells) -> Iterator[dict[str, Any]]:
    """Insertable rows for ``cells`` of ``cube`` (the dimensions it leaves out NULL)."""
    dims = CUBES[cube]
    for key, cell in cells.items():
        row = dict.fromkeys(DIMENSIONS) | dict(zip(dims, key, strict=True))
        yield {"cube": cube, "grain": grain, "period": period, **row, **cell.values()}


def cube_for(dimensions: Sequence[str]) -> str | None:
    """The smallest cube with month and year cells holding every one of ``dimensions`` (module
    rules); None when only the day cells hold them."""
    wanted = set(dimensions)
    return next((name for name in COARSE if wanted <= set(CUBES[name])), None)
