"""Campaign costs: what each campaign cost, entered by hand or imported from a CSV.

Rules:
- a cost is (campaign, day spent, amount, currency, note); a campaign may have many;
- a report counts the costs whose day falls in its range;
- the import reads ``campaign,date,amount[,currency][,note]`` (date ``YYYY-MM-DD``, amount a
  decimal, currency default EUR); every bad row is reported with its line and nothing is saved
  until the whole file is valid (a fixed file is imported again without duplicates: a row equal
  to a stored one — same campaign, day, amount and currency — is skipped).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy import Date, Index, Integer, Numeric, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from leadbridge.core.errors import ConfigError
from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import Base


class CampaignCostRow(Base):
    """One cost booked against a campaign (module rules)."""

    __tablename__ = "campaign_costs"
    __table_args__ = (Index("ix_campaign_costs_campaign", "campaign", "spent_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(255))
    spent_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


@dataclass(frozen=True)
class CampaignCost:
    campaign: str
    spent_on: date
    amount: Decimal
    currency: str = "EUR"
    note: str | None = None


def add_cost(session: Session, cost: CampaignCost) -> bool:
    """Store ``cost`` unless an equal one is stored; True when it was added."""
    if cost.amount < 0:
        raise ConfigError(f"campaign cost must not be negative: {cost.amount}")
    same = select(CampaignCostRow.id).where(
        CampaignCostRow.campaign == cost.campaign,
        CampaignCostRow.spent_on == cost.spent_on,
        CampaignCostRow.amount == cost.amount,
        CampaignCostRow.currency == cost.currency,
    )
    if session.execute(same.limit(1)).first() is not None:
        return False
    session.add(
        CampaignCostRow(
            campaign=cost.campaign,
            spent_on=cost.spent_on,
            amount=cost.amount,
            currency=cost.currency,
            note=cost.note,
            created_at=utcnow(),
        )
    )
    return True


def parse_costs(path: Path) -> list[CampaignCost]:
    """Every row of a costs CSV; raises ``ConfigError`` listing each bad line (module rules)."""
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    with handle:
        return parse_costs_text(handle, str(path))


def parse_costs_text(lines: Iterable[str], name: str) -> list[CampaignCost]:
    """Every row of a costs CSV read from ``lines`` (``name`` prefixes each error; module rules)."""
    costs: list[CampaignCost] = []
    errors: list[str] = []
    reader = csv.DictReader(lines)
    missing = {"campaign", "date", "amount"} - set(reader.fieldnames or [])
    if missing:
        raise ConfigError(f"{name}: missing column(s) {', '.join(sorted(missing))}")
    for line, raw in enumerate(reader, start=2):
        try:
            costs.append(cost_from_fields(raw))
        except ValueError as error:
            errors.append(f"{name}:{line}: {error}")
    if errors:
        raise ConfigError("campaign costs not imported:\n" + "\n".join(errors))
    return costs


def cost_from_fields(raw: Mapping[str, str | None]) -> CampaignCost:
    """One cost from its fields (``campaign``, ``date``, ``amount``, ``currency``, ``note``) — a CSV
    row or the cockpit's form; ``ValueError`` says what is wrong (module rules)."""
    campaign = (raw.get("campaign") or "").strip()
    if not campaign:
        raise ValueError("campaign is empty")
    if len(campaign) > 255:
        raise ValueError("campaign is longer than 255 characters")
    try:
        spent_on = date.fromisoformat((raw.get("date") or "").strip())
    except ValueError:
        raise ValueError(f"date {raw.get('date')!r} is not YYYY-MM-DD") from None
    try:
        amount = Decimal((raw.get("amount") or "").strip())
    except InvalidOperation:
        raise ValueError(f"amount {raw.get('amount')!r} is not a number") from None
    if not amount.is_finite() or amount < 0 or amount >= Decimal("1e12"):
        raise ValueError(f"amount {raw.get('amount')!r} must be a number from 0 to 999,999,999,999.99")
    currency = (raw.get("currency") or "EUR").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise ValueError(f"currency {currency!r} is not a 3-letter code")
    note = (raw.get("note") or "").strip() or None
    if note is not None and len(note) > 500:
        raise ValueError("note is longer than 500 characters")
    return CampaignCost(campaign, spent_on, amount.quantize(Decimal("0.01")), currency, note)


def import_costs(session: Session, path: Path) -> tuple[int, int]:
    """Import a costs CSV in the caller's transaction; (added, already stored)."""
    added = skipped = 0
    for cost in parse_costs(path):
        if add_cost(session, cost):
            added += 1
            session.flush()  # a repeated row within the file is found as stored
        else:
            skipped += 1
    return added, skipped


def recent_costs(session: Session, limit: int = 100) -> list[CampaignCostRow]:
    """The costs by day spent, newest first (then the latest entered first)."""
    query = select(CampaignCostRow).order_by(CampaignCostRow.spent_on.desc(), CampaignCostRow.id.desc())
    return list(session.scalars(query.limit(limit)))


def remove_cost(session: Session, cost_id: int) -> bool:
    """Delete one cost; False when there is none with that id (removed already)."""
    row = session.get(CampaignCostRow, cost_id)
    if row is None:
        return False
    session.delete(row)
    return True
