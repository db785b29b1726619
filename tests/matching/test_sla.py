"""The SLA clock (business hours, holidays, DST) and the actions it derives from offers and events."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import LeadEvent, Offer, OfferStatus
from leadbridge.core.partner import BusinessHours
from leadbridge.core.sla import (
    SlaActionKind,
    accept_deadline,
    add_business_hours,
    reminder_times,
    sla_actions,
)
from tests.matching.helpers import partner, policy

BERLIN = BusinessHours(timezone="Europe/Berlin", weekdays=[0, 1, 2, 3, 4], start=time(8), end=time(18))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "hours", "holidays", "expected"),
    [
        # Monday 10:00 Berlin (09:00 UTC, winter) + 4 h → 14:00 Berlin
        (utc(2026, 11, 23, 9), 4, [], utc(2026, 11, 23, 13)),
        # Monday 16:00 Berlin + 4 h → 2 h Monday, 2 h Tuesday → Tuesday 10:00 Berlin
        (utc(2026, 11, 23, 15), 4, [], utc(2026, 11, 24, 9)),
        # Friday 17:00 Berlin + 2 h → Monday 09:00 Berlin
        (utc(2026, 11, 27, 16), 2, [], utc(2026, 11, 30, 8)),
        # Saturday + 1 h → Monday 09:00 Berlin
        (utc(2026, 11, 28, 12), 1, [], utc(2026, 11, 30, 8)),
        # before opening: Monday 06:00 Berlin + 1 h → 09:00
        (utc(2026, 11, 23, 5), 1, [], utc(2026, 11, 23, 8)),
        # Thursday 17:00 + 2 h with Friday a holiday → Monday 09:00
        (utc(2026, 12, 24, 16), 2, [date(2026, 12, 25)], utc(2026, 12, 28, 8)),
        # exactly the whole day
        (utc(2026, 11, 23, 7), 10, [], utc(2026, 11, 23, 17)),
    ],
)
def test_given_business_hours_when_adding_time_then_only_open_hours_count(
    start: datetime, hours: float, holidays: list[date], expected: datetime
) -> None:
    assert add_business_hours(start, hours, BERLIN, holidays) == expected


def test_given_a_dst_change_when_adding_time_then_local_hours_are_kept() -> None:
    # Friday 27 March 2026, 17:00 CET (16:00 UTC); clocks go forward on Sunday 29 March.
    # 2 h: 1 h on Friday, 1 h on Monday from 08:00 CEST (06:00 UTC) → 07:00 UTC.
    assert add_business_hours(utc(2026, 3, 27, 16), 2, BERLIN) == utc(2026, 3, 30, 7)
    # October: back to CET on Sunday 25 October 2026; Monday 08:00 CET = 07:00 UTC.
    assert add_business_hours(utc(2026, 10, 23, 15), 2, BERLIN) == utc(2026, 10, 26, 8)


def test_given_round_the_clock_hours_over_dst_night_when_adding_then_real_elapsed_time() -> None:
    always = BusinessHours(timezone="Europe/Berlin", weekdays=list(range(7)), start=time(0), end=time(23, 59))
    # Saturday 28 March 22:00 CET (21:00 UTC) + 4 h: 1 h 59 min until 23:59 CET, then 2 h 01 min
    # from Sunday 00:00 CET. Clocks jump 02:00 → 03:00 that night, so the deadline reads 03:01 CEST
    # (01:01 UTC): four real hours of business time, not four hours on the wall clock.
    assert add_business_hours(utc(2026, 3, 28, 21), 4, always) == utc(2026, 3, 29, 1, 1)


def test_given_no_business_hours_when_adding_then_wall_clock() -> None:
    assert add_business_hours(utc(2026, 11, 28, 12), 30, None) == utc(2026, 11, 29, 18)


def test_given_a_partner_with_hours_when_offered_then_deadline_and_reminders_in_its_hours() -> None:
    p = partner(availability={"business_hours": BERLIN.model_dump(), "holidays": [date(2026, 11, 24)]})
    sla = policy(sla={"accept_hours": 8, "reminders_before_hours": [2, 12]}).sla
    offered = utc(2026, 11, 23, 15)  # Monday 16:00 Berlin: 2 h Monday, Tuesday holiday, 6 h Wednesday
    assert accept_deadline(offered, sla, p) == utc(2026, 11, 25, 13)
    assert reminder_times(offered, sla, p) == [utc(2026, 11, 25, 11)]  # the 12 h reminder is dropped
    plain = policy(sla={"use_business_hours": False}).sla
    assert accept_deadline(offered, plain, p) == offered + timedelta(hours=8)


def make_offer(status: OfferStatus = OfferStatus.PENDING, **over: object) -> Offer:
    data = {
        "id": "O-1",
        "lead_id": "L-1",
        "partner_id": "P-1",
        "offered_at": utc(2026, 11, 23, 9),
        "status": status,
    }
    data.update(over)
    return Offer.model_validate(data)


def event(kind: EventKind, at: datetime, **payload: object) -> LeadEvent:
    return LeadEvent(
        lead_id="L-1",
        kind=kind.value,
        to_state="x",
        actor="t",
        idempotency_key=f"{kind}:{at}",
        occurred_at=at,
        partner_id="P-1",
        payload=payload,
    )


SLA = policy(sla={"accept_hours": 8, "reminders_before_hours": [2], "use_business_hours": False}).sla


@pytest.mark.parametrize(
    ("now", "events", "kinds"),
    [
        (utc(2026, 11, 23, 12), [], []),
        (utc(2026, 11, 23, 15, 30), [], [SlaActionKind.REMIND]),
        (utc(2026, 11, 23, 15, 30), [("remind", {"offer_id": "O-1", "reminder": 1})], []),
        (utc(2026, 11, 23, 17), [], [SlaActionKind.EXPIRE]),
    ],
)
def test_given_a_pending_offer_when_ticked_then_remind_once_then_expire(
    now: datetime, events: list, kinds: list
) -> None:
    log = [event(EventKind(kind), utc(2026, 11, 23, 15), **payload) for kind, payload in events]
    actions = sla_actions(LeadState.OFFERED, [make_offer()], log, {}, SLA, now)
    assert [a.kind for a in actions] == kinds


def test_given_expiry_escalation_configured_when_expired_then_escalate_too() -> None:
    sla = policy(sla={"accept_hours": 1, "escalate_on": ["expired"], "use_business_hours": False}).sla
    actions = sla_actions(LeadState.OFFERED, [make_offer()], [], {}, sla, utc(2026, 11, 24))
    assert [a.kind for a in actions] == [SlaActionKind.EXPIRE, SlaActionKind.ESCALATE]
    assert actions[0].idempotency_key == "expire:O-1"


def test_given_a_stored_deadline_when_ticked_then_it_wins() -> None:
    offer = make_offer(deadline=utc(2026, 11, 30))
    # the computed deadline (23 Nov 17:00) has passed, the stored one has not; reminders count back from it
    assert sla_actions(LeadState.OFFERED, [offer], [], {}, SLA, utc(2026, 11, 25)) == []
    assert [
        a.due_at for a in sla_actions(LeadState.OFFERED, [offer], [], {}, SLA, utc(2026, 11, 29, 23))
    ] == [utc(2026, 11, 29, 22)]
    assert (
        sla_actions(LeadState.OFFERED, [offer], [], {}, SLA, utc(2026, 11, 30))[0].kind
        is SlaActionKind.EXPIRE
    )


ACCEPTED = make_offer(OfferStatus.ACCEPTED, decided_at=utc(2026, 11, 23, 10))


@pytest.mark.parametrize(
    ("state", "now", "events", "reasons"),
    [
        (LeadState.ACCEPTED, utc(2026, 11, 24, 9), [], []),
        (LeadState.ACCEPTED, utc(2026, 11, 24, 11), [], ["first_contact_overdue"]),
        (LeadState.ACCEPTED, utc(2026, 11, 24, 11), [("escalate", {"reason": "first_contact_overdue"})], []),
        (LeadState.WORKING, utc(2026, 11, 24, 11), [("status", {})], []),
        (LeadState.WORKING, utc(2026, 12, 8, 11), [("status", {})], ["stalled"]),
        (LeadState.WON, utc(2026, 12, 20), [], []),
    ],
)
def test_given_an_accepted_lead_when_ticked_then_first_contact_and_stall_escalations(
    state: LeadState, now: datetime, events: list, reasons: list
) -> None:
    log = [event(EventKind(kind), utc(2026, 11, 23, 12), **payload) for kind, payload in events]
    actions = sla_actions(state, [ACCEPTED], log, {}, SLA, now)
    assert [a.reason for a in actions] == reasons
    assert all(a.kind is SlaActionKind.ESCALATE for a in actions)
