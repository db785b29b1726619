"""The inbox's pool pages on a phone: blind cards, claim, "next lead", read-only at a limit,
shark tank offers and a hybrid pool widening — every page scanned for the lead's identity."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from leadbridge.core.model import utcnow
from leadbridge.core.sla_tick import sla_tick
from leadbridge.notify.dispatch import send_due
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from tests.pool.helpers import api, assert_blind, pooled_lead, state_of, use_policy
from tests.web.conftest import SmtpServer, World, csrf_from


def _post(client: TestClient, path: str) -> object:
    return client.post(path, data={"csrf_token": csrf_from(client, "/inbox/pool")})


def test_given_a_pool_when_a_partner_claims_on_its_phone_then_it_sees_the_lead_and_the_other_cannot(
    world: World,
) -> None:
    policy = use_policy(world, mode="pool")
    lead = pooled_lead(world, policy, industry="manufacturing")
    alpha, beta = world.partner_client(world.user_a), world.partner_client(world.user_b)
    for client in (alpha, beta):
        page = client.get("/inbox/pool")
        assert page.status_code == 200 and 'name="viewport"' in page.text
        assert f"/inbox/pool/{lead['id']}/claim" in page.text and "DE-80" in page.text
        assert_blind(page.text, lead)
        assert_blind(client.get("/inbox").text, lead)

    won = _post(alpha, f"/inbox/pool/{lead['id']}/claim")
    assert won.status_code == 303 and won.headers["location"] == f"/inbox/leads/{lead['id']}?done=claimed"  # type: ignore[attr-defined]
    shown = alpha.get(won.headers["location"]).text  # type: ignore[attr-defined]
    assert lead["email"] in shown and lead["company"] in shown

    late = _post(beta, f"/inbox/pool/{lead['id']}/claim")
    assert late.status_code == 409 and "claimed by another partner" in late.text  # type: ignore[attr-defined]
    assert_blind(late.text, lead)  # type: ignore[attr-defined]
    assert beta.get(f"/inbox/leads/{lead['id']}").status_code == 404


def test_given_a_pool_when_pulling_the_next_lead_then_claimed_in_one_tap_and_an_empty_pool_says_why(
    world: World,
) -> None:
    policy = use_policy(world, mode="pool", pool={"claim": "blind_pull"})
    lead = pooled_lead(world, policy)
    alpha = world.partner_client(world.user_a)
    page = alpha.get("/inbox/pool").text
    assert 'id="pull"' in page and "/claim" not in page  # pull only: no picking
    assert_blind(page, lead)
    pulled = _post(alpha, "/inbox/pool/pull")
    assert pulled.headers["location"] == f"/inbox/leads/{lead['id']}?done=claimed"  # type: ignore[attr-defined]
    assert state_of(world, lead["id"]) == ("accepted", world.partner_a)
    empty = _post(alpha, "/inbox/pool/pull")
    assert empty.status_code == 404 and "your pool is empty" in empty.text  # type: ignore[attr-defined]


def test_given_a_partner_at_its_limit_then_its_pool_page_is_read_only(world: World) -> None:
    policy = use_policy(world, mode="pool", pool={"max_open_claims": 1})
    first, second = pooled_lead(world, policy, n="1"), pooled_lead(world, policy, n="2")
    alpha = world.partner_client(world.user_a)
    _post(alpha, f"/inbox/pool/{first['id']}/claim")
    page = alpha.get("/inbox/pool").text
    assert 'id="read-only"' in page and "limit 1" in page
    assert (
        page.count("pool-item") == 1 and "/claim" not in page and 'id="pull"' not in page
    )  # listed, no buttons
    assert_blind(page, second)


def test_given_a_shark_tank_then_every_eligible_partner_is_mailed_and_offered_and_the_first_accept_wins(
    world: World, smtp_server: SmtpServer
) -> None:
    policy = use_policy(world, mode="shark_tank")
    lead = pooled_lead(world, policy)
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
    send_due(Notifier(world.database, world.settings, mailer), settle=timedelta(0))
    told = [m["To"] for m in smtp_server.messages if "heat_pumps in DE-80" in m["Subject"]]
    assert {"anna@alpha.example", "bert@beta.example"} <= set(told)  # both at once
    for message in smtp_server.messages:
        assert_blind(message.as_string(), lead)

    offers = {
        pid: api(world, pid).get("/api/v1/partner/offers").json()
        for pid in (world.partner_a, world.partner_b)
    }
    ids = {
        pid: next(o["offer_id"] for o in found if o["mode"] == "shark_tank") for pid, found in offers.items()
    }
    assert_blind(str(offers), lead)
    beta = world.partner_client(world.user_b)
    accepted = beta.post(
        f"/inbox/offers/{ids[world.partner_b]}/accept", data={"csrf_token": csrf_from(beta, "/inbox")}
    )
    assert accepted.status_code == 303
    late = api(world, world.partner_a).post(f"/api/v1/partner/offers/{ids[world.partner_a]}/accept")
    assert late.status_code == 409
    assert state_of(world, lead["id"]) == ("accepted", world.partner_b)


def test_given_a_hybrid_pool_then_the_second_group_sees_it_in_its_inbox_only_after_the_first_window(
    world: World,
) -> None:
    policy = use_policy(world, mode="hybrid", pool_hours=1, pool={"groups": [{"top": 1}, {}]})
    lead = pooled_lead(world, policy)
    pages = {
        pid: world.partner_client(uid)
        for pid, uid in ((world.partner_a, world.user_a), (world.partner_b, world.user_b))
    }
    seeing = {pid for pid, client in pages.items() if lead["id"] in client.get("/inbox/pool").text}
    assert len(seeing) == 1
    sla_tick(world.database, policy=policy, clock=lambda: utcnow() + timedelta(hours=1, minutes=1))
    for client in pages.values():
        page = client.get("/inbox/pool").text
        assert lead["id"] in page
        assert_blind(page, lead)


def test_given_a_pool_listing_then_the_inbox_partner_is_mailed_a_blind_claim_link_and_its_pool_link(
    world: World, smtp_server: SmtpServer
) -> None:
    policy = use_policy(world, mode="pool")
    lead = pooled_lead(world, policy)
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
    send_due(Notifier(world.database, world.settings, mailer), settle=timedelta(0))
    (text,) = [
        m.as_string()
        for m in smtp_server.messages
        if m["To"] == "bert@beta.example" and "Claim:" in m.as_string()
    ]
    assert "Claim: http://testserver/inbox/o/" in text and "http://testserver/inbox/pool" in text
    assert_blind(text, lead)
