"""Erase and Merge in Chromium: an admin opens a lead, dismisses the confirmation once (nothing
happens), confirms, and reads the outcome on the lead's page and its timeline; screenshots are saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.offers import OfferService
from leadbridge.web.accounts import create_admin
from tests.browser.conftest import LiveServer
from tests.builders import a_lead, a_partner

PASSWORD = "correct horse battery"


def _world(live_server: LiveServer) -> tuple[str, str]:
    """A lead offered to an inbox partner, and a second lead of the same person (other address)."""
    with live_server.database.transaction() as session:
        create_admin(session, "admin@maker.example", PASSWORD)
        partner = a_partner(session, name="Inbox Heizung", connection="inbox")
        lead = a_lead(email="erika.browser@example.com", company="Browser Muster GmbH")
        take_in(session, lead)
        LeadService(session).apply(lead.id, EventKind.ROUTE, actor="t", idempotency_key=f"r:{lead.id}")
        OfferService(session).create(lead.id, partner.id, round=1, mode="assign", deadline=None, decision={})
        twin = a_lead(source_connection="fair", email="e.browser@other.example", company="Twin AG")
        take_in(session, twin)
    return lead.id, twin.id


def _signed_in(live_server: LiveServer, browser: Any) -> Any:
    page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
    page.goto(f"{live_server.url}/cockpit/login")
    page.fill("input[name=email]", "admin@maker.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/cockpit")
    return page


def test_admin_merges_a_duplicate_and_erases_a_lead_with_confirmation(
    live_server: LiveServer, browser: Any, artifacts: Path
) -> None:
    lead_id, twin_id = _world(live_server)
    page = _signed_in(live_server, browser)

    page.goto(f"{live_server.url}/cockpit/leads/{twin_id}")
    page.fill("input[name=into]", lead_id)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Merge')")
    page.wait_for_url("**done=merged")
    assert "Merged by an admin into" in page.inner_text("body")

    page.goto(f"{live_server.url}/cockpit/leads/{lead_id}")
    assert "Browser Muster GmbH" in page.inner_text("h1")
    assert f"Duplicate {twin_id} attached: merged by an admin" in page.inner_text("#timeline")
    page.fill("input[name=reason]", "ticket 9")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("button:has-text('Erase')")
    page.wait_for_timeout(300)
    assert "Browser Muster GmbH" in page.inner_text("h1")  # dismissed: nothing erased
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Erase')")
    page.wait_for_url("**done=erased")
    body = page.inner_text("body")
    assert "Browser Muster GmbH" not in body and "erika.browser@example.com" not in body
    timeline = page.inner_text("#timeline")
    assert "Personal data erased (ticket 9); telling the inbox" in timeline
    assert "Inbox Heizung told in the inbox: erased at the data subject's request" in timeline
    page.screenshot(path=str(artifacts / "privacy-1-erased.png"), full_page=True)
