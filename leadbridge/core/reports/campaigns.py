"""Campaign × partner ROI: what each campaign's leads brought in against what it cost.

Rules (see ``window.py`` for the range and filters):
- leads: leads created in the range, by campaign and by the partner holding them now (a lead no
  partner holds is counted under partner ``None``);
- won and revenue: win events in the range, by the lead's campaign and the winning partner;
- cost: the campaign's costs whose day falls in the range (``costs.py``); a campaign × partner
  row carries the share of its campaign's cost its leads make up (cost × partner leads / leads);
- ROI = (revenue − cost) / cost; cost per won deal = cost / won (None where they divide by 0);
- leads without a campaign are reported under campaign ``None``;
- costs are booked per campaign: a report filtered by country or partner shows no cost (a share
  of it would be a guess).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadbridge.core.reports.costs import CampaignCostRow
from leadbridge.core.reports.read import report_facts
from leadbridge.core.reports.window import ReportFilter, money
from leadbridge.core.store.tables import PartnerRow

_CENT = Decimal("0.01")


@dataclass
class RoiRow:
    """Figures for a campaign, or for one partner within a campaign (module rules)."""

    campaign: str | None
    partner_id: str | None = None
    partner_name: str | None = None
    leads: int = 0
    won: int = 0
    revenue: Decimal = Decimal("0.00")
    cost: Decimal = Decimal("0.00")

    @property
    def roi(self) -> float | None:
        return float((self.revenue - self.cost) / self.cost) if self.cost else None

    @property
    def cost_per_won(self) -> Decimal | None:
        return (self.cost / self.won).quantize(_CENT) if self.won else None

    def as_dict(self) -> dict[str, Any]:
        per_won = self.cost_per_won
        return {
            "campaign": self.campaign,
            "partner_id": self.partner_id,
            "partner_name": self.partner_name,
            "leads": self.leads,
            "won": self.won,
            "revenue": str(self.revenue),
            "cost": str(self.cost),
            "roi": self.roi,
            "cost_per_won": None if per_won is None else str(per_won),
        }


@dataclass
class CampaignRoi:
    """A campaign's totals and its partner rows."""

    total: RoiRow
    partners: list[RoiRow] = field(default_factory=list)


def campaign_roi(session: Session, flt: ReportFilter | None = None) -> list[CampaignRoi]:
    """Every campaign with leads, wins or costs in the range, by name (module rules)."""
    flt = flt or ReportFilter()
    cells: dict[tuple[str | None, str | None], RoiRow] = {}

    def cell(campaign: str | None, partner_id: str | None) -> RoiRow:
        return cells.setdefault((campaign, partner_id), RoiRow(campaign, partner_id))

    for (campaign, partner_id, measure, _code), n, amount in report_facts(
        session, flt, ("campaign", "partner_id"), ("leads", "won")
    ).items():
        target = cell(campaign, partner_id)
        if measure == "leads":
            target.leads += n
        else:
            target.won += n
            target.revenue = money(target.revenue + amount)

    costs = _costs(session, flt)
    campaigns = sorted({c for c, _ in cells} | set(costs), key=lambda c: (c is None, c or ""))
    names = (
        {pid: name for pid, name in session.execute(select(PartnerRow.id, PartnerRow.name))} if cells else {}
    )
    result: list[CampaignRoi] = []
    for campaign in campaigns:
        parts = [row for (c, _), row in cells.items() if c == campaign]
        whole = RoiRow(campaign, cost=costs.get(campaign, Decimal("0.00")))
        for part in parts:
            whole.leads += part.leads
            whole.won += part.won
            whole.revenue += part.revenue
        for part in parts:
            part.partner_name = names.get(part.partner_id or "")
            if whole.leads:
                part.cost = (whole.cost * part.leads / whole.leads).quantize(_CENT)
        parts.sort(key=lambda r: (-r.revenue, -r.won, r.partner_name or r.partner_id or ""))
        result.append(CampaignRoi(whole, parts))
    return result


def _costs(session: Session, flt: ReportFilter) -> dict[str | None, Decimal]:
    query = select(CampaignCostRow.campaign, func.sum(CampaignCostRow.amount))
    if flt.since is not None:
        query = query.where(CampaignCostRow.spent_on >= flt.since.date())
    if flt.until is not None:
        query = query.where(CampaignCostRow.spent_on < flt.until.date())
    if flt.campaign is not None:
        query = query.where(CampaignCostRow.campaign == flt.campaign)
    if flt.country is not None or flt.partner_id is not None:
        return {}  # costs are booked per campaign, not per country or partner
    return {c: money(amount) for c, amount in session.execute(query.group_by(CampaignCostRow.campaign))}
