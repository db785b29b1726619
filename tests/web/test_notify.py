"""E-mail over real SMTP (aiosmtpd): offer, reminder, escalation, digest; one-tap links that work."""

from __future__ import annotations

import re

import pytest

from leadbridge.core.errors import RetriableError
from leadbridge.core.policy import Material
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.messages import Recipient, signin_mail
from leadbridge.notify.service import Notifier
from leadbridge.web.accounts import create_partner_user
from tests.web.conftest import SmtpServer, World, body_of, csrf_from

MATERIALS = {"heat_pumps": [Material(title="Heat pump brochure", url="https://maker.example/hp.pdf")]}


def _notifier(world: World, smtp_server: SmtpServer) -> Notifier:
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
    return Notifier(world.database, world.settings, mailer, materials=MATERIALS)


def test_offer_mail_goes_to_each_user_in_their_language_blind_with_material(
    world: World, smtp_server: SmtpServer
) -> None:
    with world.database.transaction() as session:
        create_partner_user(session, world.partner_a, "max@alpha.example", language="en")
    assert _notifier(world, smtp_server).offer(world.offer_a) == 2
    by_to = {m["To"]: m for m in smtp_server.messages}
    assert set(by_to) == {"anna@alpha.example", "max@alpha.example"}
    assert by_to["anna@alpha.example"]["Subject"].startswith("Neues Lead-Angebot")
    assert by_to["max@alpha.example"]["Subject"] == "New lead offer: heat_pumps in DE-80"
    assert by_to["max@alpha.example"]["From"] == "leads@maker.example"
    text = body_of(by_to["max@alpha.example"])
    assert "Heat pump brochure: https://maker.example/hp.pdf" in text
    assert "Muster" not in text and "example.com" not in text  # no identity before accepting
    assert by_to["max@alpha.example"].is_multipart()  # text + HTML with one-tap buttons


def test_the_accept_link_in_the_mail_leads_to_a_one_tap_accept(world: World, smtp_server: SmtpServer) -> None:
    _notifier(world, smtp_server).offer(world.offer_a)
    text = body_of(smtp_server.messages[0])
    accept = re.search(r"(?:Annehmen|Accept): http://testserver(\S+)", text)
    assert accept
    client = world.client()
    opened = client.post(accept.group(1), data={"csrf_token": csrf_from(client, accept.group(1))})
    offer_page = opened.headers["location"]
    assert offer_page.endswith("?do=accept")
    response = client.post(
        f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, offer_page)}
    )
    assert response.status_code == 303 and "/inbox/leads/" in response.headers["location"]


def test_reminders_only_for_pending_offers(world: World, smtp_server: SmtpServer) -> None:
    notifier = _notifier(world, smtp_server)
    assert notifier.offer(world.offer_b, reminder=True) == 1
    assert smtp_server.messages[0]["Subject"].startswith("Reminder: lead offer expires")
    client = world.partner_client(world.user_b)
    client.post(
        f"/inbox/offers/{world.offer_b}/decline",
        data={"csrf_token": csrf_from(client, "/inbox"), "reason_code": "no_fit"},
    )
    assert notifier.offer(world.offer_b, reminder=True) == 0
    assert len(smtp_server.messages) == 1


def test_escalation_goes_to_admins(world: World, smtp_server: SmtpServer) -> None:
    assert _notifier(world, smtp_server).escalation(world.lead_a, "first contact overdue") == 1
    message = smtp_server.messages[0]
    assert message["To"] == "admin@maker.example"
    assert message["Subject"] == "Escalation: first contact overdue"
    assert f"http://testserver/cockpit/leads/{world.lead_a}" in body_of(message)


def test_daily_digest_lists_offers_and_follow_ups(world: World, smtp_server: SmtpServer) -> None:
    client = world.partner_client(world.user_a)
    client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, "/inbox")})
    page = f"/inbox/leads/{world.lead_a}"
    client.post(
        f"{page}/status",
        data={"csrf_token": csrf_from(client, page), "status": "contacted", "next_follow_up": "2026-12-03"},
    )
    assert _notifier(world, smtp_server).daily_digest() == 2  # partner A (held lead), partner B (offer)
    by_to = {m["To"]: m for m in smtp_server.messages}
    anna = body_of(by_to["anna@alpha.example"])
    assert "2026-12-03" in anna and "Meine Leads: 1" in anna
    assert "Open offers: 1" in body_of(by_to["bert@beta.example"])


def test_an_unreachable_smtp_server_is_a_retriable_error() -> None:
    mailer = SmtpMailer("127.0.0.1", 9, "x@example.com", timeout=2)
    with pytest.raises(RetriableError):
        mailer.send_many([signin_mail(Recipient("a@example.com"), "http://x")])
