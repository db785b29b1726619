"""Cockpit: overview charts, lead filters, a lead's timeline with the routing explanation, partner
stats, SLA breaches, dead letters with retry, manual re-route and assignment."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import LeadRow, OfferRow, OutboxRow
from tests.web.conftest import World, csrf_from


def test_cockpit_needs_an_admin(world: World) -> None:
    assert world.client().get("/cockpit").headers["location"] == "/cockpit/login"
    assert world.partner_client(world.user_a).get("/cockpit/leads").status_code == 303


def test_overview_draws_the_funnel_and_time_to_accept(world: World) -> None:
    client = world.partner_client(world.user_a)
    client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, "/inbox")})
    page = world.admin_client().get("/cockpit").text
    assert page.count("<svg") == 2
    assert 'aria-label="Funnel (leads)"' in page and "&lt; 1 h" in page


def test_lead_filters(world: World) -> None:
    admin = world.admin_client()
    late_lead, _ = world.offer(
        world.partner_a,
        deadline_hours=-2,
        address={"postal_code": "20095", "country": "DE"},
        campaign="spring",
    )

    def ids(query: str) -> set[str]:
        page = admin.get(f"/cockpit/leads?{query}").text
        return {lead for lead in (world.lead_a, world.lead_b, late_lead) if lead in page}

    assert ids("") == {world.lead_a, world.lead_b, late_lead}
    assert ids(f"partner={world.partner_b}") == {world.lead_b}
    assert ids("region=DE-20") == {late_lead}
    assert ids("campaign=spring") == {late_lead}
    assert ids("sla=true") == {late_lead}
    assert ids("state=won") == set()


def test_lead_timeline_shows_events_routing_explanation_and_outbox(world: World) -> None:
    client = world.partner_client(world.user_a)
    client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, "/inbox")})
    page = world.admin_client().get(f"/cockpit/leads/{world.lead_a}").text
    for expected in (
        "receive",
        "qualify",
        "route",
        "offer",
        "accept",
        "distance: 0.4",
        "tier: 0.22",
        "territory: postal code 80331 outside 1-2",
        "best 1 of 2 eligible partners",
        "12.5 km",
        "lead_status",
        "Alpha Heizung",
    ):
        assert expected in page, expected
    assert world.admin_client().get("/cockpit/leads/L-missing").status_code == 404


def test_manual_reroute_withdraws_offers_and_starts_routing(world: World) -> None:
    admin = world.admin_client()
    page = f"/cockpit/leads/{world.lead_a}"
    response = admin.post(f"{page}/reroute", data={"csrf_token": csrf_from(admin, page)})
    assert response.status_code == 303
    with world.database.transaction() as session:
        lead = session.get(LeadRow, world.lead_a)
        offer = session.get(OfferRow, world.offer_a)
        assert lead is not None and offer is not None
        assert (lead.state, lead.round, offer.status) == ("routing", 2, "withdrawn")
    # a second click on a lead already in routing changes nothing: the router is about to pick it up
    assert admin.post(f"{page}/reroute", data={"csrf_token": csrf_from(admin, page)}).status_code == 303
    with world.database.transaction() as session:
        lead = session.get_one(LeadRow, world.lead_a)
        assert (lead.state, lead.round) == ("routing", 2)


def test_manual_assignment_offers_the_lead_to_the_chosen_partner(world: World) -> None:
    admin = world.admin_client()
    page = f"/cockpit/leads/{world.lead_a}"
    response = admin.post(
        f"{page}/assign", data={"csrf_token": csrf_from(admin, page), "partner_id": world.partner_b}
    )
    assert response.status_code == 303
    with world.database.transaction() as session:
        offers = {
            o.partner_id: o
            for o in session.execute(select(OfferRow).where(OfferRow.lead_id == world.lead_a)).scalars()
        }
    assert offers[world.partner_a].status == "withdrawn"
    manual = offers[world.partner_b]
    assert manual.status == "pending" and manual.mode == "manual"
    assert manual.decision and manual.decision["assigned_by"] == "admin:admin@maker.example"
    bert = world.partner_client(world.user_b)
    assert manual.id in bert.get("/inbox").text


def test_cockpit_forms_need_the_csrf_token(world: World) -> None:
    admin = world.admin_client()
    admin.get("/cockpit")
    assert admin.post(f"/cockpit/leads/{world.lead_a}/reroute", data={"csrf_token": "x"}).status_code == 403


def test_partner_stats_and_sla_breaches(world: World) -> None:
    client = world.partner_client(world.user_a)
    client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, "/inbox")})
    late_lead, _ = world.offer(world.partner_b, deadline_hours=-1)
    admin = world.admin_client()
    partners = admin.get("/cockpit/partners").text
    assert "Alpha Heizung" in partners and "Beta Solar" in partners
    sla = admin.get("/cockpit/sla").text
    assert late_lead in sla and "accept deadline passed" in sla and world.lead_a not in sla


def test_dead_letters_can_be_retried(world: World) -> None:
    now = utcnow()
    with world.database.transaction() as session:
        row = OutboxRow(
            target="home",
            kind="lead_status",
            lead_id=world.lead_a,
            idempotency_key="dead-1",
            payload={},
            status="dead",
            attempts=6,
            next_attempt_at=now,
            last_error="HTTP 400 bad field",
            created_at=now,
        )
        session.add(row)
        session.flush()
        row_id = row.id
    admin = world.admin_client()
    page = admin.get("/cockpit/outbox").text
    assert "HTTP 400 bad field" in page
    response = admin.post(
        "/cockpit/outbox/retry",
        data={"csrf_token": csrf_from(admin, "/cockpit/outbox"), "ids": [str(row_id)]},
    )
    assert response.headers["location"] == "/cockpit/outbox?done=1"
    with world.database.transaction() as session:
        retried = session.get(OutboxRow, row_id)
        assert retried is not None and (retried.status, retried.attempts) == ("pending", 0)


def test_an_accepted_lead_without_a_status_past_first_contact_is_a_breach(world: World) -> None:
    client = world.partner_client(world.user_a)
    client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, "/inbox")})
    with world.database.transaction() as session:
        lead = session.get(LeadRow, world.lead_a)
        assert lead is not None
        lead.updated_at = utcnow() - timedelta(hours=25)  # the default policy allows 24 h
    sla = world.admin_client().get("/cockpit/sla").text
    assert world.lead_a in sla and "no first contact reported" in sla
