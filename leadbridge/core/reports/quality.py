"""Lead quality per campaign: what partners said of the leads each campaign brought — the closed
loop's feedback to marketing.

Rules (see ``window.py`` for the range and filters; the figures are facts, ``facts.py``):
- leads: leads created in the range; offers: offers made in the range;
- ratings and average rating: the partners' lead-quality ratings (1–5) recorded in the range;
- returned: leads handed back in the range, with their reasons; not a lead: declines and returns
  giving the reason ``not_a_lead``; not-a-lead rate = not a lead / offers;
- leads without a campaign are reported under campaign ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from leadbridge.core.reasons import NOT_A_LEAD
from leadbridge.core.reports.read import report_facts
from leadbridge.core.reports.window import ReportFilter, ratio

MEASURES = ("leads", "offers", "not_a_lead", "returned", "rating")


@dataclass
class QualityRow:
    """One campaign's lead-quality figures (module rules)."""

    campaign: str | None
    leads: int = 0
    offers: int = 0
    ratings: int = 0
    rating_sum: Decimal = Decimal("0")
    returned: int = 0
    not_a_lead: int = 0
    return_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def average_rating(self) -> float | None:
        return ratio(float(self.rating_sum), self.ratings)

    @property
    def not_a_lead_rate(self) -> float | None:
        return ratio(self.not_a_lead, self.offers)

    def as_dict(self) -> dict[str, Any]:
        reasons = sorted(self.return_reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        return {
            "campaign": self.campaign,
            "leads": self.leads,
            "offers": self.offers,
            "ratings": self.ratings,
            "average_rating": self.average_rating,
            "returned": self.returned,
            "not_a_lead": self.not_a_lead,
            "not_a_lead_rate": self.not_a_lead_rate,
            "return_reasons": ", ".join(f"{code}:{n}" for code, n in reasons),
        }


def lead_quality(session: Session, flt: ReportFilter | None = None) -> list[QualityRow]:
    """Every campaign with leads or feedback in the range, by name (module rules)."""
    rows: dict[str | None, QualityRow] = {}
    for (campaign, measure, code), n, amount in report_facts(
        session, flt or ReportFilter(), ("campaign",), MEASURES
    ).items():
        row = rows.setdefault(campaign, QualityRow(campaign))
        if measure == "rating":
            row.ratings += n
            row.rating_sum += amount
        elif measure == "returned":
            row.returned += n
            reason = code or "unknown"
            row.return_reasons[reason] = row.return_reasons.get(reason, 0) + n
            if code == NOT_A_LEAD:
                row.not_a_lead += n
        elif measure == "not_a_lead":  # declines as not a lead
            row.not_a_lead += n
        else:
            setattr(row, measure, getattr(row, measure) + n)
    return sorted(rows.values(), key=lambda r: (r.campaign is None, r.campaign or ""))
