"""Partner scorecard: how each partner handles the leads it is offered, against the network median.

Rules (see ``window.py`` for what the range and filters cover):
- offers: every offer the partner was made (pool listings included); accepted: offers accepted or
  later returned; declined and expired: as the offer ended (an unclaimed pool listing is no expiry);
- acceptance rate = accepted / (accepted + declined + expired), where declines for ``not_a_lead``
  are left out (the closed loop: a partner is not marked down for refusing a bad lead; they are
  shown as ``declined_not_a_lead``);
- time to accept: hours from offer to accept, median and p90 over the accepted offers;
- conversion = won / accepted; win rate = won / (won + lost); revenue won: the sum of win amounts;
- lost and return reasons: counts by reason code;
- SLA compliance: offers answered (accepted or declined) by their deadline / offers with a
  deadline that were answered or expired;
- average rating: the mean lead-quality rating (1–5) the partner gave the leads it held;
- the network median of each rate is the median over partners with at least one offer.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import OfferStatus
from leadbridge.core.policy import POOL_MODES
from leadbridge.core.reasons import NOT_A_LEAD
from leadbridge.core.reports.window import (
    ReportFilter,
    amount_of,
    median_of,
    money,
    percentile,
    ratio,
    with_lead_filter,
)
from leadbridge.core.store.tables import LeadEventRow, OfferRow, PartnerRow

_ACCEPTED = (OfferStatus.ACCEPTED.value, OfferStatus.RETURNED.value)
_ANSWERED = (*_ACCEPTED, OfferStatus.DECLINED.value)


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

    def row(partner_id: str) -> ScorecardRow:
        if partner_id not in rows:
            rows[partner_id] = ScorecardRow(partner_id, partner_id)
        return rows[partner_id]

    _offer_counts(session, flt, row)
    _accept_times(session, flt, row)
    _outcomes(session, flt, row)
    _ratings(session, flt, row)
    names = session.execute(select(PartnerRow.id, PartnerRow.name).where(PartnerRow.id.in_(list(rows))))
    for partner_id, name in names:
        rows[partner_id].name = name
    ordered = sorted(rows.values(), key=lambda r: (r.name.lower(), r.partner_id))
    active = [r for r in ordered if r.offers]
    network = {name: median_of([getattr(r, name) for r in active]) for name in MEDIAN_FIELDS}
    return Scorecard(ordered, network)


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _offer_counts(session: Session, flt: ReportFilter, row: Any) -> None:
    status, deadline, decided = OfferRow.status, OfferRow.deadline, OfferRow.decided_at
    unpooled = OfferRow.mode.not_in(POOL_MODES)
    query = select(
        OfferRow.partner_id,
        func.count(),
        _count(status.in_(_ACCEPTED)),
        _count(status == OfferStatus.DECLINED.value),
        _count(and_(status == OfferStatus.DECLINED.value, OfferRow.reason_code == NOT_A_LEAD)),
        _count(and_(status == OfferStatus.EXPIRED.value, unpooled)),
        _count(
            and_(
                deadline.is_not(None),
                or_(status.in_(_ANSWERED), and_(status == OfferStatus.EXPIRED.value, unpooled)),
            )
        ),
        _count(and_(deadline.is_not(None), status.in_(_ANSWERED), decided <= deadline)),
    ).where(flt.within(OfferRow.offered_at))
    if flt.partner_id:
        query = query.where(OfferRow.partner_id == flt.partner_id)
    query = with_lead_filter(query, flt, OfferRow.lead_id).group_by(OfferRow.partner_id)
    for partner_id, offers, accepted, declined, not_a_lead, expired, due, met in session.execute(query):
        r = row(partner_id)
        r.offers, r.accepted, r.declined = int(offers), int(accepted or 0), int(declined or 0)
        r.declined_not_a_lead, r.expired = int(not_a_lead or 0), int(expired or 0)
        r.sla_due, r.sla_met = int(due or 0), int(met or 0)


def _hours_to_accept(session: Session) -> Any:
    """Hours from offer to decision as a number the database computes (no timestamps to parse)."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(OfferRow.decided_at) - func.julianday(OfferRow.offered_at)) * 24
    return func.extract("epoch", OfferRow.decided_at - OfferRow.offered_at) / 3600


def _accept_times(session: Session, flt: ReportFilter, row: Any) -> None:
    # Medians and percentiles differ by backend (SQLite has none): read one number per offer.
    query = select(OfferRow.partner_id, _hours_to_accept(session)).where(
        flt.within(OfferRow.offered_at), OfferRow.status.in_(_ACCEPTED), OfferRow.decided_at.is_not(None)
    )
    if flt.partner_id:
        query = query.where(OfferRow.partner_id == flt.partner_id)
    hours: dict[str, list[float]] = defaultdict(list)
    for partner_id, value in session.execute(with_lead_filter(query, flt, OfferRow.lead_id)):
        hours[partner_id].append(float(value))
    for partner_id, values in hours.items():
        r = row(partner_id)
        r.median_accept_hours = percentile(values, 0.5)
        r.p90_accept_hours = percentile(values, 0.9)


def _event_query(flt: ReportFilter, *columns: Any) -> Any:
    query = select(*columns).where(flt.within(LeadEventRow.occurred_at), LeadEventRow.partner_id.is_not(None))
    if flt.partner_id:
        query = query.where(LeadEventRow.partner_id == flt.partner_id)
    return with_lead_filter(query, flt, LeadEventRow.lead_id)


def _outcomes(session: Session, flt: ReportFilter, row: Any) -> None:
    reason = LeadEventRow.payload["reason_code"].as_string()
    kinds = [EventKind.WIN.value, EventKind.LOSE.value, EventKind.RETURN.value]
    query = _event_query(
        flt, LeadEventRow.partner_id, LeadEventRow.kind, reason, func.count(), func.sum(amount_of())
    ).where(LeadEventRow.kind.in_(kinds))
    reasons: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for partner_id, kind, code, total, amount in session.execute(
        query.group_by(LeadEventRow.partner_id, LeadEventRow.kind, reason)
    ):
        r = row(partner_id)
        if kind == EventKind.WIN.value:
            r.won += int(total)
            r.revenue = money(r.revenue + money(amount))
        elif kind == EventKind.LOSE.value:
            r.lost += int(total)
            reasons[(partner_id, "lost")][code or "unknown"] += int(total)
        else:
            r.returned += int(total)
            reasons[(partner_id, "return")][code or "unknown"] += int(total)
    for (partner_id, which), counts in reasons.items():
        target = row(partner_id)
        if which == "lost":
            target.lost_reasons = dict(counts)
        else:
            target.return_reasons = dict(counts)


def _ratings(session: Session, flt: ReportFilter, row: Any) -> None:
    rating = LeadEventRow.payload["rating"].as_integer()
    query = _event_query(flt, LeadEventRow.partner_id, func.count(), func.sum(rating)).where(
        LeadEventRow.kind == EventKind.NOTE.value,
        LeadEventRow.payload["type"].as_string() == "rating",
    )
    for partner_id, total, summed in session.execute(query.group_by(LeadEventRow.partner_id)):
        r = row(partner_id)
        r.ratings = int(total)
        r.average_rating = ratio(float(summed or 0), int(total))
