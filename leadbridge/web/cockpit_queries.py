"""What the cockpit shows, as queries: lead lists with filters, a lead's timeline, partner stats,
SLA breaches, dead letters, the funnel and time to accept.

Rule: an offer breaches its SLA when it is still pending after its deadline (a pool listing: its
window passed); an accepted lead breaches when no status has been reported within the policy's
``sla.first_contact_hours`` (calendar hours here; the SLA engine's escalations count business hours)
after the accept; a held lead (accepted or working) *stalls* when its partner has recorded nothing
(accept, status, note) for ``sla.stall_days``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, or_, select, union
from sqlalchemy.orm import Session

from leadbridge.core.event_text import describe
from leadbridge.core.leads import LeadService
from leadbridge.core.model import LeadEvent, Offer, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partner import Partner
from leadbridge.core.partners import partner_from_row
from leadbridge.core.policy import POOL_MODES
from leadbridge.core.store.keyset import Cursor, keyset, split
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, OutboxRow, PartnerRow

FIRST_CONTACT = timedelta(hours=24)  # the policy default; callers pass the configured value
STALL = timedelta(days=14)  # likewise
PARTNER_ACTIVITY = ("accept", "status", "note")
LIST_LIMIT = 200


@dataclass(frozen=True)
class LeadFilters:
    state: str | None = None
    partner_id: str | None = None
    region: str | None = None
    campaign: str | None = None
    sla_breached: bool = False
    first_contact: timedelta = FIRST_CONTACT
    regions: tuple[str, ...] = ()  # a channel manager's regions (``core/roles.py``): only leads in one


def _breached(now: datetime, first_contact: timedelta) -> ColumnElement[bool]:
    """Leads in SLA breach, as a condition the database evaluates (no id list in memory)."""
    late_offers = select(OfferRow.lead_id).where(OfferRow.status == "pending", OfferRow.deadline < now)
    silent = and_(LeadRow.state == "accepted", LeadRow.updated_at < now - first_contact)
    return or_(LeadRow.id.in_(late_offers), silent)


def leads(
    session: Session,
    filters: LeadFilters,
    now: datetime | None = None,
    *,
    after: Cursor | None = None,
    limit: int = LIST_LIMIT,
) -> tuple[list[LeadRow], Cursor | None]:
    """One page of leads matching ``filters``, most recently changed first, and the next page's
    cursor (keyset on ``(updated_at, id)``: ``core/store/keyset.py``)."""
    query = select(LeadRow)
    if filters.state:
        query = query.where(LeadRow.state == filters.state)
    if filters.partner_id:
        # a partner's leads: the ones it holds and the ones it has been offered
        # as one id set, so the database joins a partner's few leads instead of walking every lead
        # in list order testing each (an OR of the two conditions cannot use either index)
        offered = select(OfferRow.lead_id).where(OfferRow.partner_id == filters.partner_id)
        held = select(LeadRow.id).where(LeadRow.partner_id == filters.partner_id)
        query = query.where(LeadRow.id.in_(union(held, offered)))
    if filters.campaign:
        query = query.where(LeadRow.campaign == filters.campaign)
    if filters.region:
        country, _, postal = filters.region.upper().partition("-")
        query = query.where(LeadRow.country == country)
        if postal:
            query = query.where(LeadRow.postal_code.startswith(postal, autoescape=True))
    if filters.regions:
        query = query.where(or_(*(_in_region(region) for region in filters.regions)))
    if filters.sla_breached:
        query = query.where(_breached(now or utcnow(), filters.first_contact))
    page = keyset(query, LeadRow.updated_at, LeadRow.id, after=after, limit=limit, descending=True)
    return split(list(session.execute(page).scalars()), limit, "updated_at")


def _in_region(region: str) -> ColumnElement[bool]:
    """Leads in ``CC`` or ``CC-PREFIX`` (country, postal-code prefix)."""
    country, _, postal = region.upper().partition("-")
    return and_(LeadRow.country == country, LeadRow.postal_code.startswith(postal, autoescape=True))


PARTNER_CHOICES = 300  # beyond this many partners, forms ask for a partner id instead of a list


def partner_choices(session: Session) -> list[tuple[str, str]] | None:
    """``(id, name)`` of every partner for a drop-down, or ``None`` when there are too many to list."""
    rows = session.execute(
        select(PartnerRow.id, PartnerRow.name).order_by(PartnerRow.name).limit(PARTNER_CHOICES + 1)
    ).all()
    return None if len(rows) > PARTNER_CHOICES else [(pid, name) for pid, name in rows]


def partner_names(session: Session, ids: Iterable[str | None]) -> dict[str, str]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return dict(
        session.execute(select(PartnerRow.id, PartnerRow.name).where(PartnerRow.id.in_(wanted))).all()
    )


def partners_by_id(session: Session, ids: Iterable[str]) -> dict[str, Partner]:
    """These partners by id, in one query (a page's partners, e.g. to check a channel manager's
    regions — one query for the page, not one per partner)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(select(PartnerRow).where(PartnerRow.id.in_(wanted))).scalars()
    return {row.id: partner_from_row(row) for row in rows}


@dataclass
class Timeline:
    row: LeadRow
    events: list[LeadEvent]
    offers: list[Offer]
    outbox: list[OutboxRow]
    partner_names: dict[str, str] = field(default_factory=dict)

    def sentence(self, event: LeadEvent) -> str:
        """The event as a sentence a person reads (``core/event_text.py``)."""
        return describe(event, self.partner_names)

    @property
    def decisions(self) -> list[dict[str, Any]]:
        """Each round's routing explanation once (all offers of a round share one decision)."""
        seen: dict[str, dict[str, Any]] = {}
        for offer in self.offers:
            if offer.decision:
                seen.setdefault(repr(sorted(offer.decision.items(), key=lambda kv: kv[0])), offer.decision)
        return list(seen.values())


def _decision_partners(offers: list[Offer]) -> Iterator[str]:
    for offer in offers:
        decision = offer.decision or {}
        for key in ("candidates", "excluded"):
            for item in decision.get(key) or []:
                if isinstance(item, dict) and isinstance(item.get("partner_id"), str):
                    yield item["partner_id"]


def timeline(session: Session, lead_id: str) -> Timeline:
    """A lead with its events, offers and outbox rows; partner names only of the partners named."""
    service = LeadService(session)
    row = service.get_row(lead_id)
    outbox = session.execute(select(OutboxRow).where(OutboxRow.lead_id == lead_id).order_by(OutboxRow.id))
    events = service.events(lead_id)
    offers = OfferService(session).for_lead(lead_id)
    named = [row.partner_id, *(e.partner_id for e in events), *(o.partner_id for o in offers)]
    return Timeline(
        row=row,
        events=events,
        offers=offers,
        outbox=list(outbox.scalars()),
        partner_names=partner_names(session, [*named, *_decision_partners(offers)]),
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


PARTNER_PAGE = 100


def partner_stats(
    session: Session, *, after: Cursor | None = None, limit: int = PARTNER_PAGE
) -> tuple[list[PartnerStats], Cursor | None]:
    """One page of partners by name with their counts, aggregated by the database for the page's
    partners only (so the page costs the same with 10 or 10,000 partners), and the next cursor."""
    page = keyset(
        select(PartnerRow), PartnerRow.name, PartnerRow.id, after=after, limit=limit, descending=False
    )
    partners, cursor = split(list(session.execute(page).scalars()), limit, "name")
    ids = [p.id for p in partners]
    if not ids:
        return [], cursor
    offers: dict[tuple[str, str], int] = {
        (partner, status): int(n)
        for partner, status, n in session.execute(
            select(OfferRow.partner_id, OfferRow.status, func.count())
            .where(OfferRow.partner_id.in_(ids))
            .group_by(OfferRow.partner_id, OfferRow.status)
        ).all()
    }
    states: dict[tuple[str | None, str], int] = {
        (partner, state): int(n)
        for partner, state, n in session.execute(
            select(LeadRow.partner_id, LeadRow.state, func.count())
            .where(LeadRow.partner_id.in_(ids))
            .group_by(LeadRow.partner_id, LeadRow.state)
        ).all()
    }
    waits: dict[str, list[float]] = defaultdict(list)
    for partner, offered, decided in session.execute(
        select(OfferRow.partner_id, OfferRow.offered_at, OfferRow.decided_at).where(
            OfferRow.partner_id.in_(ids),
            OfferRow.status.in_(("accepted", "returned")),
            OfferRow.decided_at.is_not(None),
        )
    ).all():
        if decided is not None:
            waits[partner].append((decided - offered).total_seconds() / 3600)
    result = []
    for row in partners:
        spans = sorted(waits.get(row.id, []))
        result.append(
            PartnerStats(
                partner_id=row.id,
                name=row.name,
                active=row.active,
                pending=offers.get((row.id, "pending"), 0),
                held=states.get((row.id, "accepted"), 0) + states.get((row.id, "working"), 0),
                won=states.get((row.id, "won"), 0),
                lost=states.get((row.id, "lost"), 0),
                declined=offers.get((row.id, "declined"), 0),
                accepted=offers.get((row.id, "accepted"), 0) + offers.get((row.id, "returned"), 0),
                median_hours_to_accept=round(spans[len(spans) // 2], 1) if spans else None,
            )
        )
    return result, cursor


@dataclass(frozen=True)
class Breach:
    lead_id: str
    partner_id: str | None
    kind: str
    since: datetime


def sla_breaches(
    session: Session,
    now: datetime | None = None,
    first_contact: timedelta = FIRST_CONTACT,
    stall: timedelta = STALL,
) -> list[Breach]:
    now = now or utcnow()
    found = [
        Breach(
            o.lead_id,
            o.partner_id,
            "pool window passed" if o.mode in POOL_MODES else "accept deadline passed",
            o.deadline or o.offered_at,
        )
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
    return found + stalls(session, now, stall)


def stalls(session: Session, now: datetime, stall: timedelta) -> list[Breach]:
    """Held leads whose partner has recorded nothing for ``stall`` (oldest activity first)."""
    last = func.max(LeadEventRow.occurred_at)
    rows = session.execute(
        select(LeadRow.id, LeadRow.partner_id, last)
        .join(
            LeadEventRow,
            (LeadEventRow.lead_id == LeadRow.id) & (LeadEventRow.partner_id == LeadRow.partner_id),
        )
        .where(LeadRow.state.in_(("accepted", "working")), LeadEventRow.kind.in_(PARTNER_ACTIVITY))
        .group_by(LeadRow.id, LeadRow.partner_id)
        .having(last < now - stall)
        .order_by(last)
    ).all()
    return [
        Breach(lead_id, partner_id, f"stalled: no partner activity for {stall.days} days", at)
        for lead_id, partner_id, at in rows
    ]


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
    """Company, else the person's name, else the id — read from the stored data without validating
    the whole lead again (a list page shows 200 of them)."""
    data = row.data or {}
    name = " ".join(str(part) for part in (data.get("first_name"), data.get("last_name")) if part)
    return row.company or name or row.id
