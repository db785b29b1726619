"""Partner scorecard: how each partner handles the leads it is offered, against the network median.

Rules (see ``window.py`` for what the range and filters cover):
- offers: every offer the partner was made (pool listings included); accepted: offers accepted or
  later returned; declined and expired: as the offer ended (an unclaimed pool listing is no expiry);
- acceptance rate = accepted / (accepted + declined + expired), where declines for ``not_a_lead``
  are left out (the closed loop: a partner is not marked down for refusing a bad lead; they are
  shown as ``declined_not_a_lead``);
- time to accept: hours from offer to accept, median and p90 over the accepted offers; time to
  first contact: hours from accepting to the first contact (``facts.py``), median and p90 over the
  accepted offers with a contact (both read from duration buckets, within 2 %: ``hours.py``);
- conversion = won / accepted; win rate = won / (won + lost); revenue won: the sum of win amounts;
- lost and return reasons: counts by reason code;
- SLA compliance: offers answered (accepted or declined) by their deadline / offers with a
  deadline that were answered or expired;
- average rating: the mean lead-quality rating (1–5) the partner gave the leads it held;
- the network median of each rate is the median over partners with at least one offer.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.reports.read import report_facts
from leadbridge.core.reports.window import ReportFilter, median_of, money, ratio
from leadbridge.core.store.tables import PartnerRow


@dataclass
class ScorecardRow:
    """One partner's figures (module rules)."""

    partner_id: str
    name: str
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    declined_not_a_lead: int = 0
    expired: int = 0
    won: int = 0
    lost: int = 0
    returned: int = 0
    revenue: Decimal = Decimal("0.00")
    median_accept_hours: float | None = None
    p90_accept_hours: float | None = None
    median_contact_hours: float | None = None
    p90_contact_hours: float | None = None
    sla_due: int = 0
    sla_met: int = 0
    ratings: int = 0
    average_rating: float | None = None
    lost_reasons: dict[str, int] = field(default_factory=dict)
    return_reasons: dict[str, int] = field(default_factory=dict)

    @property
    def acceptance_rate(self) -> float | None:
        return ratio(self.accepted, self.accepted + self.declined - self.declined_not_a_lead + self.expired)

    @property
    def conversion(self) -> float | None:
        return ratio(self.won, self.accepted)

    @property
    def win_rate(self) -> float | None:
        return ratio(self.won, self.won + self.lost)

    @property
    def sla_compliance(self) -> float | None:
        return ratio(self.sla_met, self.sla_due)

    def as_dict(self) -> dict[str, Any]:
        """Plain data (amounts as strings) with the derived rates."""
        data = asdict(self)
        data["revenue"] = str(self.revenue)
        data.update(
            acceptance_rate=self.acceptance_rate,
            conversion=self.conversion,
            win_rate=self.win_rate,
            sla_compliance=self.sla_compliance,
        )
        return data


MEDIAN_FIELDS = (
    "acceptance_rate",
    "median_accept_hours",
    "median_contact_hours",
    "conversion",
    "win_rate",
    "sla_compliance",
    "average_rating",
)


@dataclass
class Scorecard:
    """Every partner's row, by name, and the network median of each rate."""

    rows: list[ScorecardRow]
    network: dict[str, float | None]

    def row(self, partner_id: str) -> ScorecardRow:
        return next(r for r in self.rows if r.partner_id == partner_id)


def partner_scorecard(session: Session, flt: ReportFilter | None = None) -> Scorecard:
    """The scorecard of every partner with activity in the range (module rules)."""
    flt = flt or ReportFilter()
    rows: dict[str, ScorecardRow] = {}
    ratings: dict[str, Decimal] = defaultdict(Decimal)
    facts = report_facts(session, flt, ("partner_id",), _MEASURES)
    for (partner_id, measure, code), n, amount in facts.items():
        if partner_id is None:
            continue  # an outcome no partner reported (a manufacturer's own win) is no partner's figure
        r = rows.setdefault(partner_id, ScorecardRow(partner_id, partner_id))
        if measure in ("lost", "returned"):
            reasons = r.lost_reasons if measure == "lost" else r.return_reasons
            reasons[code or "unknown"] = reasons.get(code or "unknown", 0) + n
            setattr(r, measure, getattr(r, measure) + n)
        elif measure == "won":
            r.won += n
            r.revenue = money(r.revenue + amount)
        elif measure == "rating":
            r.ratings += n
            ratings[partner_id] += amount
        else:
            setattr(r, _FIELDS[measure], getattr(r, _FIELDS[measure]) + n)
    for (partner_id,), hists in facts.hists.items():
        if partner_id is None:
            continue
        r = rows.setdefault(partner_id, ScorecardRow(partner_id, partner_id))
        if "accept_hours" in hists:
            r.median_accept_hours = hists["accept_hours"].percentile(0.5)
            r.p90_accept_hours = hists["accept_hours"].percentile(0.9)
        if "contact_hours" in hists:
            r.median_contact_hours = hists["contact_hours"].percentile(0.5)
            r.p90_contact_hours = hists["contact_hours"].percentile(0.9)
    for partner_id, summed in ratings.items():
        rows[partner_id].average_rating = ratio(float(summed), rows[partner_id].ratings)
    names = session.execute(select(PartnerRow.id, PartnerRow.name).where(PartnerRow.id.in_(list(rows))))
    for partner_id, name in names:
        rows[partner_id].name = name
    ordered = sorted(rows.values(), key=lambda r: (r.name.lower(), r.partner_id))
    active = [r for r in ordered if r.offers]
    network = {name: median_of([getattr(r, name) for r in active]) for name in MEDIAN_FIELDS}
    return Scorecard(ordered, network)


# Fact measure -> scorecard field, for the plain counts.
_FIELDS = {
    "offers": "offers",
    "accepted": "accepted",
    "declined": "declined",
    "not_a_lead": "declined_not_a_lead",
    "expired": "expired",
    "sla_due": "sla_due",
    "sla_met": "sla_met",
}
_MEASURES = (*_FIELDS, "accept_hours", "contact_hours", "won", "lost", "returned", "rating")
