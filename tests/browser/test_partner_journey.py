"""In a real browser: a partner on a phone opens the offer mail's link, accepts, sees the full lead,
records a meeting and a win; an admin then sees it in the cockpit with the routing explanation."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.core.offers import OfferService
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from leadbridge.web.accounts import create_admin, create_partner_user
from tests.browser.conftest import LiveServer
from tests.builders import a_lead, a_partner
from tests.web.conftest import SmtpServer, body_of, decision_for

pytestmark = pytest.mark.browser

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}


def _seed(server: LiveServer) -> tuple[str, str]:
    with server.database.transaction() as session:
        partner = a_partner(session, name="Alpha Heizung")
        create_partner_user(session, partner.id, "anna@alpha.example", language="en")
        create_admin(session, "admin@maker.example", "correct horse battery")
        lead = a_lead(company="Sonnenhof GmbH", email="kontakt@sonnenhof.example", industry="hospitality")
        take_in(session, lead)
        LeadService(session).apply(lead.id, EventKind.ROUTE, actor="router", idempotency_key=f"r:{lead.id}")
        decision = decision_for(lead.id, partner.id)
        offer, _ = OfferService(session).create(
            lead.id,
            partner.id,
            round=1,
            mode="offer_n",
            deadline=utcnow() + timedelta(hours=8),
            decision=decision,
        )
    return lead.id, offer.id


def test_partner_accepts_on_a_phone_and_admin_sees_it(
    live_server: LiveServer, smtp_server: SmtpServer, browser: Any, artifacts: Path
) -> None:
    lead_id, offer_id = _seed(live_server)
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
    notifier = Notifier(live_server.database, live_server.settings, mailer)
    assert notifier.offer(offer_id) == 1
    mail = body_of(smtp_server.messages[-1])
    accept_link = re.search(r"Accept: (\S+)", mail)
    assert accept_link and accept_link.group(1).startswith(live_server.url)

    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.goto(accept_link.group(1))
    page.click("#continue")  # signing in from a link takes a tap (mail scanners only GET)
    page.wait_for_url(re.compile(rf"/inbox/offers/{offer_id}"))
    assert page.url.endswith(f"/inbox/offers/{offer_id}?do=accept")
    assert "Sonnenhof" not in page.content()  # blind before accepting
    page.screenshot(path=str(artifacts / "1-offer-phone.png"), full_page=True)
    page.click("#accept")
    page.wait_for_url(re.compile(rf"/inbox/leads/{lead_id}"))
    assert "Sonnenhof GmbH" in page.content() and "kontakt@sonnenhof.example" in page.content()
    page.screenshot(path=str(artifacts / "2-lead-accepted.png"), full_page=True)

    page.select_option("#status-form select[name=status]", "meeting")
    page.fill("#status-form input[name=expected_revenue]", "14500")
    page.fill("#status-form input[name=next_follow_up]", "2026-12-04")
    page.click("#status-form button")
    page.wait_for_url(re.compile(r"done=saved"))
    assert page.inner_text("#lead-state") == "working"

    page.click("text=Mark as won")  # opens the <details>
    page.fill("#win-form input[name=amount]", "13900")
    page.click("#win-form button")
    page.wait_for_url(re.compile(r"done=saved"))
    assert page.inner_text("#lead-state") == "won"
    assert "13900" in page.content()
    page.screenshot(path=str(artifacts / "3-lead-won.png"), full_page=True)
    phone.close()

    desk = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = desk.new_page()
    admin.goto(f"{live_server.url}/cockpit/login")
    admin.fill("input[name=email]", "admin@maker.example")
    admin.fill("input[name=password]", "correct horse battery")
    admin.click("button:has-text('Sign in')")
    admin.wait_for_url(f"{live_server.url}/cockpit")
    admin.goto(f"{live_server.url}/cockpit/leads?state=won")
    admin.click("text=Sonnenhof GmbH")
    routing = admin.inner_text("#routing")
    assert "Alpha Heizung" in routing and "distance: 0.4" in routing
    events = admin.inner_text("#timeline")
    assert "accept" in events and "status" in events and "win" in events
    assert "lead_status" in admin.inner_text("#outbox")
    admin.screenshot(path=str(artifacts / "4-cockpit-timeline.png"), full_page=True)
    desk.close()
