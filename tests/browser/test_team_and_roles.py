"""In Chromium: a partner user invites and removes a colleague on its team page (the invitation mail
arrives, the removed colleague's sign-in stops working), and a read-only admin who presses a cockpit
button is told its role allows no changes. Screenshots are saved as test artifacts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from leadbridge.core.partners import PartnerRepository
from leadbridge.core.roles import Role
from leadbridge.core.store.web_tables import PartnerUserRow
from leadbridge.web.accounts import create_admin, create_partner_user
from leadbridge.web.sessions import issue_magic_link
from tests.browser.conftest import LiveServer
from tests.builders import a_partner
from tests.web.conftest import SmtpServer, body_of

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery"


def test_partner_user_invites_and_removes_a_colleague(
    live_server: LiveServer, smtp_server: SmtpServer, browser: Any, artifacts: Path
) -> None:
    with live_server.database.transaction() as session:
        partner = a_partner(session, name="Alpha Heizung")
        other = a_partner(session, name="Beta Solar")
        create_partner_user(session, other.id, "bert@beta.example")
        anna = create_partner_user(session, partner.id, "anna@alpha.example", language="en")
        link = f"{live_server.url}/inbox/signin/{issue_magic_link(session, anna)}"
    page = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True).new_page()
    page.goto(link)
    page.click("#continue")
    page.wait_for_url(f"{live_server.url}/inbox")
    page.click("#nav-team")
    page.wait_for_url("**/inbox/team")
    page.fill("#invite-form input[name=email]", "bert@beta.example")  # another company's user
    page.click("#invite-form button")
    assert "cannot be invited here" in page.inner_text("#team-error")
    assert "Beta" not in page.inner_text("#team-error")
    page.fill("#invite-form input[name=email]", "carla@alpha.example")
    page.fill("#invite-form input[name=name]", "Carla")
    page.click("#invite-form button")
    page.wait_for_url("**/inbox/team?done=invited")
    assert "carla@alpha.example" in page.inner_text("#colleagues")
    invitation = smtp_server.messages[-1]
    assert invitation["To"] == "carla@alpha.example" and "/inbox/signin/" in body_of(invitation)
    page.screenshot(path=str(artifacts / "team-1-invited.png"), full_page=True)
    page.click("#colleagues tr:has-text('carla@alpha.example') button")
    page.wait_for_url("**/inbox/team?done=removed")
    with live_server.database.transaction() as session:
        carla = session.scalars(
            select(PartnerUserRow).where(PartnerUserRow.email == "carla@alpha.example")
        ).one()
        assert carla.revoked_at is not None and carla.partner_id == partner.id
    carla_link = re.search(r"(http\S+/inbox/signin/\S+)", body_of(invitation))
    assert carla_link is not None
    page.screenshot(path=str(artifacts / "team-2-removed.png"), full_page=True)
    stranger = browser.new_context().new_page()
    stranger.goto(carla_link.group(1))  # the removed colleague's link no longer signs in
    if stranger.locator("#continue").count():
        stranger.click("#continue")
    assert not stranger.url.endswith("/inbox")
    stranger.goto(f"{live_server.url}/inbox")
    assert stranger.url == f"{live_server.url}/inbox/signin"  # not signed in: sent to the sign-in page


def test_read_only_admin_is_told_it_cannot_change_a_partner(
    live_server: LiveServer, browser: Any, artifacts: Path
) -> None:
    with live_server.database.transaction() as session:
        partner_id = a_partner(session, name="Müller Haustechnik").id
        create_admin(session, "viewer@maker.example", PASSWORD, role=Role.READ_ONLY)
    page = browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
    page.goto(f"{live_server.url}/cockpit/login")
    page.fill("input[name=email]", "viewer@maker.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/cockpit")
    assert page.inner_text("#admin-role") == "read only"
    page.goto(f"{live_server.url}/cockpit/partners/{partner_id}/edit")
    page.fill("input[name=capacity_max_open]", "3")
    page.click("#partner-save")
    assert "read-only admin can look at everything but change nothing" in page.content()
    page.screenshot(path=str(artifacts / "roles-1-read-only-refused.png"), full_page=True)
    with live_server.database.transaction() as session:
        assert PartnerRepository(session).get(partner_id).capacity.max_open is None
