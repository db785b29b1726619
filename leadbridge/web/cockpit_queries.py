"""What the cockpit shows, as queries: lead lists with filters, a lead's timeline, partner stats,
SLA breaches, dead letters, the funnel and time to accept.

Rule: an offer breaches its SLA when it is still pending after its deadline; an accepted lead
breaches when no status has been reported within the policy's ``sla.first_contact_hours`` (calendar
hours here; the SLA engine's escalations count business hours) after the accept.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.model import LeadEvent, Offer, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, OutboxRow, PartnerRow

FIRST_CONTACT = timedelta(hours=24)  # the policy default; callers pass the configured value
LIST_LIMIT = 200


@dataclass(frozen=True)
class LeadFilters:
    state: str | None = None
    partner_id: str | None = None
    region: str | None = None
    campaign: str | None = None
    sla_breached: bool = False
    first_contact: timedelta = FIRST_CONTACT


def _breached_lead_ids(session: Session, now: datetime, first_contact: timedelta) -> set[str]:
    late_offers = select(OfferRow.lead_id).where(OfferRow.status == "pending", OfferRow.deadline < now)
    silent = select(LeadRow.id).where(LeadRow.state == "accepted", LeadRow.updated_at < now - first_contact)
    return set(session.execute(late_offers).scalars()) | set(session.execute(silent).scalars())


def leads(session: Session, filters: LeadFilters, now: datetime | None = None) -> list[LeadRow]:
    query = select(LeadRow).order_by(LeadRow.updated_at.desc()).limit(LIST_LIMIT)
    if filters.state:
        query = query.where(LeadRow.state == filters.state)
    if filters.partner_id:
        # a partner's leads: the ones it holds and the ones it has been offered
        offered = select(OfferRow.lead_id).where(OfferRow.partner_id == filters.partner_id)
        query = query.where(or_(LeadRow.partner_id == filters.partner_id, LeadRow.id.in_(offered)))
    if filters.campaign:
        query = query.where(LeadRow.campaign == filters.campaign)
    if filters.region:
        country, _, postal = filters.region.upper().partition("-")
        query = query.where(LeadRow.country == country)
        if postal:
            query = query.where(LeadRow.postal_code.startswith(postal))
    if filters.sla_breached:
        query = query.where(
            LeadRow.id.in_(_breached_lead_ids(session, now or utcnow(), filters.first_contact))
        )
    return list(session.execute(query).scalars())


@dataclass
class Timeline:
    row: LeadRow
    events: list[LeadEvent]
    offers: list[Offer]
    outbox: list[OutboxRow]
    partner_names: dict[str, str] = field(default_factory=dict)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """Each round's routing explanation once (all offers of a round share one decision)."""
        seen: dict[str, dict[str, Any]] = {}
        for offer in self.offers:
            if offer.decision:
                seen.setdefault(repr(sorted(offer.decision.items(), key=lambda kv: kv[0])), offer.decision)
        return list(seen.values())


def timeline(session: Session, lead_id: str) -> Timeline:
    service = LeadService(session)
    row = service.get_row(lead_id)
    outbox = session.execute(select(OutboxRow).where(OutboxRow.lead_id == lead_id).order_by(OutboxRow.id))
    names = dict(session.execute(select(PartnerRow.id, PartnerRow.name)).all())
    return Timeline(
        row=row,
        events=service.events(lead_id),
        offers=OfferService(session).for_lead(lead_id),
        outbox=list(outbox.scalars()),
        partner_names=names,
    )


@dataclass(frozen=True)
class PartnerStats:
    partner_id: str
    name: str
    active: bool
    pending: int
    held: int
    won: int
    lost: int
    declined: int
    accepted: int
    median_hours_to_accept: float | None

    @property
    def accept_rate(self) -> float | None:
        answered = self.accepted + self.declined
        return round(self.accepted / answered, 2) if answered else None


def partner_stats(session: Session) -> list[PartnerStats]:
    offers = Counter(
        (partner, status)
        for partner, status in session.execute(select(OfferRow.partner_id, OfferRow.status)).all()
    )
    states = Counter(
        (partner, state)
        for partner, state in session.execute(
            select(LeadRow.partner_id, LeadRow.state).where(LeadRow.partner_id.is_not(None))
        ).all()
    )
    waits: dict[str, list[float]] = defaultdict(list)
    for partner, offered, decided in session.execute(
        select(OfferRow.partner_id, OfferRow.offered_at, OfferRow.decided_at).where(
            OfferRow.status.in_(("accepted", "returned")), OfferRow.decided_at.is_not(None)
        )
    ).all():
        if decided is not None:
            waits[partner].append((decided - offered).total_seconds() / 3600)
    result = []
    for row in session.execute(select(PartnerRow).order_by(PartnerRow.name)).scalars():
        spans = sorted(waits.get(row.id, []))
        result.append(
            PartnerStats(
                partner_id=row.id,
                name=row.name,
                active=row.active,
                pending=offers[(row.id, "pending")],
                held=states[(row.id, "accepted")] + states[(row.id, "working")],
                won=states[(row.id, "won")],
                lost=states[(row.id, "lost")],
                declined=offers[(row.id, "declined")],
                accepted=offers[(row.id, "accepted")] + offers[(row.id, "returned")],
                median_hours_to_accept=round(spans[len(spans) // 2], 1) if spans else None,
            )
        )
    return result


@dataclass(frozen=True)
class Breach:
    lead_id: str
    partner_id: str | None
    kind: str
    since: datetime


def sla_breaches(
    session: Session, now: datetime | None = None, first_contact: timedelta = FIRST_CONTACT
) -> list[Breach]:
    now = now or utcnow()
    found = [
        Breach(o.lead_id, o.partner_id, "accept deadline passed", o.deadline or o.offered_at)
        for o in session.execute(
            select(OfferRow)
            .where(OfferRow.status == "pending", OfferRow.deadline < now)
            .order_by(OfferRow.deadline)
        ).scalars()
    ]
    found += [
        Breach(r.id, r.partner_id, "no first contact reported", r.updated_at)
        for r in session.execute(
            select(LeadRow).where(LeadRow.state == "accepted", LeadRow.updated_at < now - first_contact)
        ).scalars()
    ]
    return found


def dead_letters(session: Session) -> list[OutboxRow]:
    return list(
        session.execute(select(OutboxRow).where(OutboxRow.status == "dead").order_by(OutboxRow.id)).scalars()
    )


FUNNEL = (
    ("received", "receive"),
    ("routed", "route"),
    ("offered", "offer"),
    ("accepted", "accept"),
    ("won", "win"),
)


def funnel(session: Session) -> list[tuple[str, float]]:
    """How many leads ever reached each step (distinct leads with that event)."""
    counts = dict(
        session.execute(
            select(LeadEventRow.kind, func.count(distinct(LeadEventRow.lead_id))).group_by(LeadEventRow.kind)
        ).all()
    )
    return [(label, float(counts.get(kind, 0))) for label, kind in FUNNEL]


BUCKETS = ((1, "< 1 h"), (4, "1–4 h"), (8, "4–8 h"), (24, "8–24 h"), (float("inf"), "> 24 h"))


def time_to_accept(session: Session) -> list[tuple[str, float]]:
    counts = Counter[str]()
    for offered, decided in session.execute(
        select(OfferRow.offered_at, OfferRow.decided_at).where(
            OfferRow.status.in_(("accepted", "returned")), OfferRow.decided_at.is_not(None)
        )
    ).all():
        if decided is None:
            continue
        hours = (decided - offered).total_seconds() / 3600
        counts[next(label for limit, label in BUCKETS if hours < limit)] += 1
    return [(label, float(counts[label])) for _, label in BUCKETS]


def lead_label(row: LeadRow) -> str:
    lead = lead_from_row(row)
    return lead.company or lead.full_name or row.id
