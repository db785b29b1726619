"""SLA engine: business-hours clock, accept-by deadlines, reminders, first-contact and stall timers.

Rules:
- Time is counted in the partner's business hours (``availability.business_hours``: weekdays,
  start–end local time in its ``timezone``), skipping its ``holidays`` — when the policy says
  ``sla.use_business_hours`` and the partner has hours; otherwise wall-clock hours. Elapsed time
  inside a business day is measured in UTC, so a DST change shortens or lengthens nothing.
- An offer's accept-by deadline is ``accept_hours`` business hours after it was made (the
  offer's stored ``deadline`` wins when set). Reminders fall ``reminders_before_hours`` business
  hours before the deadline; each is sent once (a ``remind`` event with the offer id and number).
- After acceptance, the partner must record a first contact (a ``status`` event) within
  ``first_contact_hours`` business hours; a claimed lead without partner activity for
  ``stall_days`` calendar days is stalled. Each breach is escalated once (an ``escalate`` event
  with the reason), and again only after new activity. With ``sla.on_breach: reclaim`` each breach
  also takes the lead back (a ``reclaim`` action: the lead is returned with the reason
  ``sla_<breach>`` and re-routed, or re-listed in the pool, without the partner who let it stall).
- ``sla_actions`` is pure: offers, events, partners, policy and now in; actions out. The caller
  executes them (expire the offer, send the reminder, record the escalation) and then asks the
  mode planner (``matching/modes.py``) what comes next after an expiry.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from leadbridge.core.lifecycle import CLAIMED_STATES, EventKind, LeadState
from leadbridge.core.model import LeadEvent, Offer, OfferStatus
from leadbridge.core.partner import BusinessHours, Partner
from leadbridge.core.policy import POOL_MODES, BreachAction, Sla

MAX_DAYS = 3660  # a clock that finds no business time in ten years is misconfigured


def add_business_hours(
    start: datetime, hours: float, business: BusinessHours | None, holidays: Collection[date] = ()
) -> datetime:
    """The moment ``hours`` of business time after ``start`` (wall-clock without business hours)."""
    if business is None or not business.weekdays:
        return start + timedelta(hours=hours)
    zone = ZoneInfo(business.timezone)
    remaining = timedelta(hours=hours)
    cursor = start.astimezone(UTC)
    day = start.astimezone(zone).date()
    for _ in range(MAX_DAYS):
        if day.weekday() in business.weekdays and day not in holidays:
            opens = datetime.combine(day, business.start, zone).astimezone(UTC)
            closes = datetime.combine(day, business.end, zone).astimezone(UTC)
            begin = max(opens, cursor)
            if begin < closes:
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
        day += timedelta(days=1)
        cursor = max(cursor, datetime.combine(day, time(0), zone).astimezone(UTC))
    raise ValueError(f"no business time found within {MAX_DAYS} days (check business hours and holidays)")


def partner_clock(partner: Partner | None, sla: Sla) -> tuple[BusinessHours | None, Collection[date]]:
    """The business hours and holidays an SLA timer for ``partner`` counts in."""
    if partner is None or not sla.use_business_hours:
        return None, ()
    availability = partner.availability
    return availability.business_hours, set(availability.holidays)


def accept_deadline(offered_at: datetime, sla: Sla, partner: Partner | None) -> datetime:
    """When an offer made at ``offered_at`` expires if not accepted."""
    business, holidays = partner_clock(partner, sla)
    return add_business_hours(offered_at, sla.accept_hours, business, holidays)


def reminder_times(offered_at: datetime, sla: Sla, partner: Partner | None) -> list[datetime]:
    """When each reminder for an offer falls (earliest first); reminders before the offer are dropped."""
    business, holidays = partner_clock(partner, sla)
    lead_times = sorted((h for h in sla.reminders_before_hours if 0 < h < sla.accept_hours), reverse=True)
    return [add_business_hours(offered_at, sla.accept_hours - h, business, holidays) for h in lead_times]


class SlaActionKind(StrEnum):
    REMIND = "remind"
    EXPIRE = "expire"
    ESCALATE = "escalate"
    RECLAIM = "reclaim"


@dataclass(frozen=True)
class SlaAction:
    """Something the SLA engine says must happen now."""

    kind: SlaActionKind
    lead_id: str
    reason: str
    offer_id: str | None = None
    partner_id: str | None = None
    reminder: int | None = None
    due_at: datetime | None = None

    @property
    def idempotency_key(self) -> str:
        """A key that makes recording the action idempotent."""
        if self.kind is SlaActionKind.REMIND:
            return f"remind:{self.offer_id}:{self.reminder}"
        if self.kind is SlaActionKind.EXPIRE:
            return f"expire:{self.offer_id}"
        if self.kind is SlaActionKind.RECLAIM:
            return f"reclaim:{self.offer_id}"
        return f"escalate:{self.lead_id}:{self.reason}:{self.due_at.isoformat() if self.due_at else ''}"


def _reminded(events: Sequence[LeadEvent], offer_id: str, number: int) -> bool:
    return any(
        e.kind == EventKind.REMIND
        and e.payload.get("offer_id") == offer_id
        and e.payload.get("reminder") == number
        for e in events
    )


def _escalated_since(events: Sequence[LeadEvent], reason: str, since: datetime) -> bool:
    return any(
        e.kind == EventKind.ESCALATE and e.payload.get("reason") == reason and e.occurred_at >= since
        for e in events
    )


def offer_actions(
    offer: Offer, events: Sequence[LeadEvent], partner: Partner | None, sla: Sla, now: datetime
) -> list[SlaAction]:
    """Reminders due and expiry for one pending offer (pool listings have windows instead, see
    ``core/pool_tick.py``)."""
    if offer.status is not OfferStatus.PENDING or offer.mode in POOL_MODES:
        return []
    deadline = offer.deadline or accept_deadline(offer.offered_at, sla, partner)
    if now >= deadline:
        actions = [_about(offer, SlaActionKind.EXPIRE, "accept-by deadline passed", deadline)]
        if "expired" in sla.escalate_on:
            actions.append(_about(offer, SlaActionKind.ESCALATE, "expired", deadline))
        return actions
    return [
        _about(offer, SlaActionKind.REMIND, "accept-by deadline near", at, reminder=number)
        for number, at in enumerate(_reminders(offer, sla, partner), start=1)
        if at <= now and not _reminded(events, offer.id, number)
    ]


def _reminders(offer: Offer, sla: Sla, partner: Partner | None) -> list[datetime]:
    if offer.deadline is None:
        return reminder_times(offer.offered_at, sla, partner)
    # a stored deadline (set by whoever made the offer) wins; reminders count back from it
    hours = sorted((h for h in sla.reminders_before_hours if 0 < h < sla.accept_hours), reverse=True)
    return [offer.deadline - timedelta(hours=h) for h in hours]


def _about(
    offer: Offer, kind: SlaActionKind, reason: str, due_at: datetime, reminder: int | None = None
) -> SlaAction:
    return SlaAction(kind, offer.lead_id, reason, offer.id, offer.partner_id, reminder, due_at)


def claim_actions(
    state: LeadState,
    offers: Sequence[Offer],
    events: Sequence[LeadEvent],
    partner: Partner | None,
    sla: Sla,
    now: datetime,
) -> list[SlaAction]:
    """First-contact and stall escalations for a lead a partner holds."""
    if state not in CLAIMED_STATES or state in (LeadState.WON, LeadState.LOST):
        return []
    accepted = next((o for o in offers if o.status is OfferStatus.ACCEPTED), None)
    if accepted is None or accepted.decided_at is None:
        return []
    holder = accepted.partner_id
    activity = [
        e.occurred_at
        for e in events
        if e.partner_id == holder
        and e.kind in (EventKind.STATUS, EventKind.NOTE)
        and e.occurred_at >= accepted.decided_at
    ]
    actions: list[SlaAction] = []
    if not activity:
        business, holidays = partner_clock(partner, sla)
        due = add_business_hours(accepted.decided_at, sla.first_contact_hours, business, holidays)
        if now >= due:
            actions += _breach(accepted, "first_contact_overdue", due, accepted.decided_at, events, sla)
    last = max(activity, default=accepted.decided_at)
    due = last + timedelta(days=sla.stall_days)
    if now >= due:
        actions += _breach(accepted, "stalled", due, last, events, sla)
    # one breach is enough to take a lead back: reclaim it once, for the earliest breach
    reclaims = [a for a in actions if a.kind is SlaActionKind.RECLAIM]
    return [a for a in actions if a.kind is not SlaActionKind.RECLAIM] + reclaims[:1]


def _breach(
    accepted: Offer, reason: str, due: datetime, since: datetime, events: Sequence[LeadEvent], sla: Sla
) -> list[SlaAction]:
    """A breach is escalated once (when the policy escalates it) and, with ``on_breach: reclaim``,
    taken back."""
    actions: list[SlaAction] = []
    if reason in sla.escalate_on and not _escalated_since(events, reason, since):
        actions.append(_about(accepted, SlaActionKind.ESCALATE, reason, due))
    if sla.on_breach is BreachAction.RECLAIM:
        actions.append(_about(accepted, SlaActionKind.RECLAIM, reason, due))
    return actions


def sla_actions(
    state: LeadState,
    offers: Sequence[Offer],
    events: Sequence[LeadEvent],
    partners: Mapping[str, Partner],
    sla: Sla,
    now: datetime,
) -> list[SlaAction]:
    """Every SLA action due for one lead now (see the module rules)."""
    actions: list[SlaAction] = []
    for offer in offers:
        actions += offer_actions(offer, events, partners.get(offer.partner_id), sla, now)
    holder = next((o.partner_id for o in offers if o.status is OfferStatus.ACCEPTED), None)
    actions += claim_actions(state, offers, events, partners.get(holder) if holder else None, sla, now)
    return actions
