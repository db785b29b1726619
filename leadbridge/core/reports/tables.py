"""Every report as flat rows (one dict per line, the same keys on each): what the CLI prints as a
table or CSV and the API returns as JSON. Nested figures (reason counts) become ``code:n`` lists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from leadbridge.core.reports.campaigns import campaign_roi
from leadbridge.core.reports.dimensions import product_view, region_view
from leadbridge.core.reports.quality import lead_quality
from leadbridge.core.reports.scorecard import partner_scorecard
from leadbridge.core.reports.trend import scorecard_trend
from leadbridge.core.reports.window import ReportFilter

Rows = list[dict[str, Any]]


def _reasons(counts: dict[str, int]) -> str:
    return ", ".join(f"{code}:{n}" for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def partner_rows(session: Session, flt: ReportFilter) -> Rows:
    """The scorecard, one line per partner, then a ``network median`` line."""
    card = partner_scorecard(session, flt)
    rows: Rows = []
    for row in card.rows:
        data = row.as_dict()
        data["lost_reasons"] = _reasons(row.lost_reasons)
        data["return_reasons"] = _reasons(row.return_reasons)
        rows.append(data)
    if rows:
        median = dict.fromkeys(rows[0], None) | {"partner_id": None, "name": "network median"}
        rows.append(median | card.network)
    return rows


def campaign_rows(session: Session, flt: ReportFilter) -> Rows:
    """Each campaign's total line (``partner_id`` None, ``partner_name`` "all") then its partners."""
    rows: Rows = []
    for campaign in campaign_roi(session, flt):
        rows.append(campaign.total.as_dict() | {"partner_name": "all"})
        rows.extend(part.as_dict() for part in campaign.partners)
    return rows


def region_rows(session: Session, flt: ReportFilter) -> Rows:
    return [r.as_dict() | {"region": r.key} for r in region_view(session, flt)]


def product_rows(session: Session, flt: ReportFilter) -> Rows:
    return [r.as_dict() | {"product": r.key} for r in product_view(session, flt)]


def quality_rows(session: Session, flt: ReportFilter) -> Rows:
    """Lead quality per campaign: ratings, returns and not-a-lead feedback (``quality.py``)."""
    return [r.as_dict() for r in lead_quality(session, flt)]


def weekly_rows(session: Session, flt: ReportFilter) -> Rows:
    """The scorecard per week (``trend.py``): a partner's with ``--partner``, else the network's."""
    return scorecard_trend(session, flt, "week")


def monthly_rows(session: Session, flt: ReportFilter) -> Rows:
    """The scorecard per month (``trend.py``)."""
    return scorecard_trend(session, flt, "month")


REPORTS: dict[str, Callable[[Session, ReportFilter], Rows]] = {
    "partners": partner_rows,
    "campaigns": campaign_rows,
    "regions": region_rows,
    "products": product_rows,
    "quality": quality_rows,
    "weekly": weekly_rows,
    "monthly": monthly_rows,
}
