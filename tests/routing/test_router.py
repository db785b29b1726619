"""The routing executor against a real database: offers, re-routing, fallback, returns, SLA expiry."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from leadbridge.core import router
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.model import OfferStatus
from leadbridge.core.offers import OfferService
from leadbridge.core.policy import Policy, parse_policy, policy_hash
from leadbridge.core.router import route_pending
from leadbridge.core.sla_tick import sla_tick
from leadbridge.core.store.database import Database
from tests.builders import a_lead, a_partner

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def policy(**overrides: object) -> Policy:
    data: dict[str, object] = {
        "version": 1,
        "max_rounds": 2,
        "fallback": "direct_sales",
        "sla": {"use_business_hours": False, "accept_hours": 4},
    }
    data.update(overrides)
    return parse_policy(data)


def clock() -> datetime:
    return NOW


def setup(database: Database, partners: int = 3, **lead_fields: object) -> tuple[str, list[str]]:
    with database.transaction() as session:
        ids = [a_partner(session, name=f"P{i}").id for i in range(partners)]
        lead = a_lead(**lead_fields)
        take_in(session, lead)
    return lead.id, ids


def state_of(database: Database, lead_id: str) -> tuple[str, list[tuple[str, str, int]]]:
    with database.transaction() as session:
        row = LeadService(session).get_row(lead_id)
        offers = [(o.partner_id, o.status.value, o.round) for o in OfferService(session).for_lead(lead_id)]
        return row.state, offers


def test_a_qualified_lead_is_offered_to_the_best_partner_with_its_decision_stored(database: Database) -> None:
    lead_id, partners = setup(database)
    summary = route_pending(database, policy=policy(), clock=clock, rng=random.Random(1))
    assert summary.routed == 1 and summary.offers == 1
    state, offers = state_of(database, lead_id)
    assert state == "offered" and len(offers) == 1 and offers[0][0] in partners
    with database.transaction() as session:
        offer = OfferService(session).for_lead(lead_id)[0]
    assert offer.deadline == NOW + timedelta(hours=4)
    assert offer.decision and {c["partner_id"] for c in offer.decision["candidates"]} == set(partners)
    again = route_pending(database, policy=policy(), clock=clock)
    assert again.offers == 0 and state_of(database, lead_id)[1] == offers


def test_a_decline_reroutes_without_the_decliner_and_the_last_round_falls_back(database: Database) -> None:
    lead_id, _ = setup(database)
    route_pending(database, policy=policy(), clock=clock, rng=random.Random(1))
    declined: set[str] = set()
    for _round in range(2):
        with database.transaction() as session:
            pending = OfferService(session).pending_for_lead(lead_id)
            assert len(pending) == 1 and pending[0].partner_id not in declined
            declined.add(pending[0].partner_id)
            OfferService(session).decline(pending[0].id, reason_code="no_capacity", actor="p")
        route_pending(database, policy=policy(), clock=clock, rng=random.Random(1))
    state, offers = state_of(database, lead_id)
    assert state == "direct"
    assert sorted(o[2] for o in offers) == [1, 2] and all(o[1] == "declined" for o in offers)


def test_offer_to_n_withdraws_the_others_when_one_accepts(database: Database) -> None:
    lead_id, _ = setup(database, partners=4)
    route_pending(database, policy=policy(distribution={"mode": "offer_n", "offer_n": 3}), clock=clock)
    with database.transaction() as session:
        pending = OfferService(session).pending_for_lead(lead_id)
        assert len(pending) == 3
        OfferService(session).accept(pending[1].id, actor="p")
    state, offers = state_of(database, lead_id)
    assert state == "accepted"
    assert sorted(o[1] for o in offers) == ["accepted", "withdrawn", "withdrawn"]


@pytest.mark.parametrize(("reason", "expected"), [("no_capacity", "offered"), ("not_a_lead", "nurture")])
def test_a_return_follows_its_reason(database: Database, reason: str, expected: str) -> None:
    lead_id, _ = setup(database)
    route_pending(database, policy=policy(), clock=clock, rng=random.Random(2))
    with database.transaction() as session:
        offer = OfferService(session).pending_for_lead(lead_id)[0]
        OfferService(session).accept(offer.id, actor="p")
        OfferService(session).return_lead(lead_id, partner_id=offer.partner_id, reason_code=reason, actor="p")
    route_pending(database, policy=policy(), clock=clock, rng=random.Random(2))
    state, offers = state_of(database, lead_id)
    assert state == expected
    if expected == "offered":
        second = [o for o in offers if o[2] == 2]
        assert len(second) == 1 and second[0][0] != offer.partner_id and second[0][1] == "pending"


def stored_decision(database: Database, lead_id: str, kind: str) -> dict:
    with database.transaction() as session:
        events = LeadService(session).events(lead_id)
    return next(e.payload["decision"] for e in events if e.kind == kind)


def test_large_accounts_go_to_direct_sales_with_the_decision_stored(database: Database) -> None:
    lead_id, _ = setup(database, annual_revenue=Decimal("80000000"))
    pol = policy(channel={"direct_sales_min_revenue": 50_000_000})
    route_pending(database, policy=pol, clock=clock)
    assert state_of(database, lead_id) == ("direct", [])
    decision = stored_decision(database, lead_id, "direct")
    assert decision["channel"] == "direct_sales" and "annual revenue" in decision["reason"]
    assert decision["policy_hash"] == policy_hash(pol)


def test_no_eligible_partner_goes_to_the_fallback_with_the_decision_stored(database: Database) -> None:
    lead_id, _ = setup(database, address={"country": "FR", "postal_code": "75001"})
    route_pending(database, policy=policy(fallback="nurture"), clock=clock)
    assert state_of(database, lead_id)[0] == "nurture"
    decision = stored_decision(database, lead_id, "nurture")  # why nobody got it: every exclusion
    assert decision["channel"] == "no_partner" and decision["excluded_by_filter"] == {"territory": 3}


def test_sla_tick_expires_overdue_offers_and_moves_the_lead_on(database: Database) -> None:
    lead_id, _ = setup(database)
    route_pending(database, policy=policy(), clock=clock, rng=random.Random(3))
    later = NOW + timedelta(hours=5)
    summary = sla_tick(database, policy=policy(), clock=lambda: later)
    assert summary.expired == 1
    state, offers = state_of(database, lead_id)
    assert state == "offered" and sorted((o[2], o[1]) for o in offers) == [(1, "expired"), (2, "pending")]
    assert offers[0][0] != offers[1][0]
    repeat = sla_tick(database, policy=policy(), clock=lambda: later)
    assert repeat.expired == 0 and len(state_of(database, lead_id)[1]) == 2


def test_sla_reminder_is_recorded_once(database: Database) -> None:
    lead_id, _ = setup(database)
    route_pending(database, policy=policy(), clock=clock)
    at = NOW + timedelta(hours=2, minutes=30)
    assert sla_tick(database, policy=policy(), clock=lambda: at).reminded == 1
    assert sla_tick(database, policy=policy(), clock=lambda: at).reminded == 0
    with database.transaction() as session:
        kinds = [e.kind for e in LeadService(session).events(lead_id)]
    assert kinds.count("remind") == 1
    assert OfferStatus.PENDING.value in [o[1] for o in state_of(database, lead_id)[1]]


def test_caps_hold_across_the_leads_of_one_pass(database: Database) -> None:
    with database.transaction() as session:
        for name in ("Cap A", "Cap B"):
            a_partner(session, name=name, capacity={"per_day": 1})
        leads = [a_lead() for _ in range(3)]
        for lead in leads:
            take_in(session, lead)
    summary = route_pending(database, policy=policy(fallback="nurture", max_rounds=1), clock=clock)
    assert summary.offers == 2 and summary.nurtured == 1
    with database.transaction() as session:
        offered = [o.partner_id for lead in leads for o in OfferService(session).for_lead(lead.id)]
    assert len(offered) == len(set(offered)) == 2


@pytest.mark.parametrize("network", ["small", "large"])
def test_a_stored_decision_itemises_its_pick_and_lists_exclusions_only_for_small_networks(
    database: Database, monkeypatch: pytest.MonkeyPatch, network: str
) -> None:
    if network == "large":
        monkeypatch.setattr(router, "EXPLAIN_ALL_UP_TO", 2)  # 4 partners count as a large network
    lead_id, _ = setup(database, partners=3)
    with database.transaction() as session:
        a_partner(session, name="Far away", territory={"countries": ["AT"]})
    route_pending(database, policy=policy(), clock=clock, rng=random.Random(1))
    with database.transaction() as session:
        (offer,) = OfferService(session).for_lead(lead_id)
    decision = offer.decision or {}
    (picked,) = [c for c in decision["candidates"] if c["partner_id"] == offer.partner_id]
    assert picked["contributions"] and abs(sum(picked["contributions"].values()) - picked["score"]) < 1e-9
    assert decision["explained"] is (network == "small")
    assert decision["excluded_total"] == 1
    assert [e["filter"] for e in decision["excluded"]] == (["territory"] if network == "small" else [])


def test_given_a_hand_assigned_offer_is_declined_then_the_lead_routes_on_and_other_leads_are_not_held_up(
    database: Database,
) -> None:
    """The liveness suite's stall: a declined cockpit assignment has no matcher decision to go on;
    reading one raised, and the raise stopped the whole routing pass for every waiting lead."""
    from leadbridge.web.cockpit_actions import assign

    lead_id, partners = setup(database, partners=3)
    with database.transaction() as session:
        other = a_lead(email="someone.else@example.com", phone=None)
        take_in(session, other)
        offer_id = assign(session, lead_id, partners[0], actor="admin@maker.example")
        OfferService(session).decline(offer_id, reason_code="no_capacity", actor="p", partner_id=partners[0])
    summary = route_pending(database, policy=policy(max_rounds=3), clock=clock, rng=random.Random(1))
    assert not summary.errors, summary.errors
    state, offers = state_of(database, lead_id)
    assert state == "offered", (state, offers)
    assert [o for o in offers if o[1] == "pending"] and all(
        p != partners[0] for p, status, _ in offers if status == "pending"
    ), offers
    assert state_of(database, other.id)[0] == "offered"  # the other lead was routed in the same pass


@pytest.mark.parametrize("mode", ["assign", "round_robin", "offer_n"])
def test_a_chunk_decided_at_once_routes_as_lead_by_lead(database: Database, mode: str) -> None:
    """``advance_all`` decides a chunk's waiting leads with one ``route_batch``: the same offers and
    stored decisions as matching each lead after the one before was executed (caps fill up within
    the pass, the rng is drawn in the same order)."""
    with database.transaction() as session:
        for n in range(5):
            a_partner(session, name=f"Cap {n}", capacity={"per_day": 2})
        leads = [a_lead() for _ in range(12)]
        for lead in leads:
            take_in(session, lead)
    chosen = policy(distribution={"mode": mode, "offer_n": 2}, fallback="nurture")

    def routed(session: Session, by_chunk: bool) -> list[tuple[str, str, object]]:
        context = router.RoutingContext.load(session, chosen, now=NOW, rng=random.Random(5))
        rows = sorted((LeadService(session).get_row(lead.id) for lead in leads), key=lambda r: r.id)
        summary = router.RouteSummary()
        routing = router.Router(session, context, clock)
        if by_chunk:
            routing.advance_all(rows, summary)
        else:
            for row in rows:
                routing.advance(row.id, summary)
        offers = OfferService(session)
        made = [(lead.id, o.partner_id, o.decision) for lead in leads for o in offers.for_lead(lead.id)]
        return sorted(made, key=lambda offer: offer[:2])  # one lead's offers share an instant: by partner

    with database.transaction() as session:
        one_by_one = session.begin_nested()
        expected = routed(session, by_chunk=False)
        one_by_one.rollback()
        got = routed(session, by_chunk=True)
        session.rollback()
    assert got == expected
    assert 8 <= len(expected) < 24  # caps bind: some leads got no offer
