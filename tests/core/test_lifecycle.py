"""The lifecycle table applied through the lead service, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from leadbridge.core.errors import ConflictError, IllegalTransition
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import (
    STATE_KEEPING,
    TRANSITIONS,
    EventKind,
    LeadState,
    allowed_events,
    next_state,
)
from leadbridge.core.store.database import Database
from tests.builders import HOLDER_EVENTS, a_lead, lead_in_state

ALLOWED = [(event, source) for (event, source) in TRANSITIONS if source is not None]


@pytest.mark.parametrize(("event", "source"), ALLOWED, ids=[f"{s.value}-{e.value}" for e, s in ALLOWED])
def test_given_a_lead_in_state_when_an_allowed_event_applies_then_it_moves_per_the_table(
    database: Database, event: EventKind, source: LeadState
) -> None:
    with database.transaction() as session:
        lead_id = lead_in_state(session, source)
        service = LeadService(session)
        partner = "P-holder" if event in HOLDER_EVENTS else None
        applied = service.apply(
            lead_id, event, actor="test", idempotency_key=f"k-{lead_id}", partner_id=partner
        )
        assert applied.created
        assert applied.event.from_state == source.value
        assert applied.event.to_state == TRANSITIONS[(event, source)].value
        assert service.get_row(lead_id).state == TRANSITIONS[(event, source)].value


FORBIDDEN = [
    (EventKind.ACCEPT, LeadState.RECEIVED),
    (EventKind.WIN, LeadState.OFFERED),
    (EventKind.OFFER, LeadState.QUALIFIED),
    (EventKind.RETURN, LeadState.OFFERED),
    (EventKind.QUALIFY, LeadState.CLOSED),
    (EventKind.ROUTE, LeadState.WON),
    (EventKind.RECEIVE, LeadState.RECEIVED),
    (EventKind.CLOSE, LeadState.OFFERED),
    (EventKind.DIRECT, LeadState.ACCEPTED),
]


@pytest.mark.parametrize(("event", "source"), FORBIDDEN, ids=[f"{s.value}-{e.value}" for e, s in FORBIDDEN])
def test_given_a_lead_when_a_forbidden_event_applies_then_the_error_names_state_and_event(
    database: Database, event: EventKind, source: LeadState
) -> None:
    with database.transaction() as session:
        lead_id = lead_in_state(session, source)
        with pytest.raises(IllegalTransition) as raised:
            LeadService(session).apply(
                lead_id, event, actor="test", idempotency_key="forbidden", partner_id="P-holder"
            )
        assert f"event {event.value!r}" in str(raised.value)
        assert f"state {source.value!r}" in str(raised.value)
        assert LeadService(session).get_row(lead_id).state == source.value


def test_every_state_not_in_the_table_for_an_event_is_forbidden() -> None:
    for event in EventKind:
        for state in LeadState:
            expected = state if event in STATE_KEEPING else TRANSITIONS.get((event, state))
            assert next_state(state, event) == expected
    assert EventKind.ACCEPT in allowed_events(LeadState.OFFERED)
    assert EventKind.ACCEPT not in allowed_events(LeadState.ROUTING)


def test_given_an_applied_event_when_its_key_is_applied_again_then_nothing_changes(
    database: Database,
) -> None:
    with database.transaction() as session:
        service = LeadService(session)
        lead_id = lead_in_state(session, LeadState.QUALIFIED)
        first = service.apply(lead_id, EventKind.ROUTE, actor="a", idempotency_key="route-1")
        again = service.apply(lead_id, EventKind.ROUTE, actor="a", idempotency_key="route-1")
        assert first.created and not again.created
        assert again.event.id == first.event.id
        assert [e.kind for e in service.events(lead_id)].count("route") == 1
        assert service.get_row(lead_id).round == 1


def test_a_replayed_receive_does_not_create_a_second_lead(database: Database) -> None:
    lead = a_lead()
    with database.transaction() as session:
        LeadService(session).receive(lead, actor="t", source_system="s", idempotency_key="recv-x")
    with database.transaction() as session:
        again = LeadService(session).receive(lead, actor="t", source_system="s", idempotency_key="recv-x")
        assert not again.created
        assert len(LeadService(session).events(lead.id)) == 1


def test_a_key_reused_for_another_lead_is_a_conflict(database: Database) -> None:
    with database.transaction() as session:
        first = lead_in_state(session, LeadState.QUALIFIED)
        second = lead_in_state(session, LeadState.QUALIFIED)
        LeadService(session).apply(first, EventKind.ROUTE, actor="a", idempotency_key="shared")
        with pytest.raises(ConflictError, match="already used"):
            LeadService(session).apply(second, EventKind.ROUTE, actor="a", idempotency_key="shared")


def test_only_the_holding_partner_may_act_on_a_claimed_lead(database: Database) -> None:
    with database.transaction() as session:
        lead_id = lead_in_state(session, LeadState.ACCEPTED, partner_id="P-one")
        service = LeadService(session)
        with pytest.raises(ConflictError, match="not held by partner P-two"):
            service.apply(lead_id, EventKind.WIN, actor="p2", idempotency_key="w", partner_id="P-two")
        service.apply(lead_id, EventKind.WIN, actor="p1", idempotency_key="w1", partner_id="P-one")
        assert service.get_row(lead_id).partner_id == "P-one"


def test_a_returned_lead_has_no_holder_and_can_be_rerouted(database: Database) -> None:
    with database.transaction() as session:
        lead_id = lead_in_state(session, LeadState.RETURNED)
        service = LeadService(session)
        assert service.get_row(lead_id).partner_id is None
        service.apply(lead_id, EventKind.REROUTE, actor="router", idempotency_key="rr")
        row = service.get_row(lead_id)
        assert (row.state, row.round) == ("routing", 2)


def test_an_illegal_event_in_a_transaction_leaves_the_log_as_it_was(database: Database) -> None:
    with database.transaction() as session:
        lead_id = lead_in_state(session, LeadState.QUALIFIED)
    with pytest.raises(IllegalTransition), database.transaction() as session:
        LeadService(session).apply(lead_id, EventKind.ROUTE, actor="a", idempotency_key="r1")
        LeadService(session).apply(lead_id, EventKind.WIN, actor="a", idempotency_key="bad")
    with database.transaction() as session:
        service = LeadService(session)
        assert service.get_row(lead_id).state == "qualified"
        assert [e.kind for e in service.events(lead_id)] == ["receive", "qualify"]
