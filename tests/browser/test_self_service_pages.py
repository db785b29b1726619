"""Self-service in Chromium: an admin edits a partner (a bad value first, nothing lost; then capacity
and a pause) and previews a routing policy before saving it. Screenshots are saved as test artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from leadbridge.core.partners import PartnerRepository
from leadbridge.web.accounts import create_admin
from tests.browser.conftest import LiveServer
from tests.builders import a_partner

PASSWORD = "correct horse battery"


def _admin_page(live_server: LiveServer, browser: Any) -> Any:
    with live_server.database.transaction() as session:
        create_admin(session, "admin@maker.example", PASSWORD)
    page = browser.new_context(viewport={"width": 1300, "height": 1000}).new_page()
    page.goto(f"{live_server.url}/cockpit/login")
    page.fill("input[name=email]", "admin@maker.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/cockpit")
    return page


def test_admin_edits_a_partner_and_a_bad_value_loses_nothing(
    live_server: LiveServer, browser: Any, artifacts: Path
) -> None:
    with live_server.database.transaction() as session:
        partner_id = a_partner(session, name="Müller Haustechnik").id
    page = _admin_page(live_server, browser)
    page.click("nav >> text=Partners")
    page.click(f"a[href='/cockpit/partners/{partner_id}/edit']")
    assert page.input_value("input[name=name]") == "Müller Haustechnik"
    page.fill("input[name=capacity_max_open]", "many")
    page.fill("input[name=product_lines]", "heat_pumps, wallboxes")
    page.click("#partner-save")
    assert "max_open" in page.inner_text("#partner-error").replace(" ", "_").lower()
    assert page.input_value("input[name=product_lines]") == "heat_pumps, wallboxes"  # kept
    page.screenshot(path=str(artifacts / "self-service-1-partner-error.png"), full_page=True)
    page.fill("input[name=capacity_max_open]", "6")
    page.fill("input[name=paused_until]", "2030-01-07")
    page.click("#partner-save")
    page.wait_for_selector("#partner-notice")
    page.screenshot(path=str(artifacts / "self-service-2-partner-saved.png"), full_page=True)
    with live_server.database.transaction() as session:
        stored = PartnerRepository(session).get(partner_id)
    assert stored.capacity.max_open == 6 and stored.product_lines == ["heat_pumps", "wallboxes"]
    assert stored.availability.paused_until is not None and stored.availability.paused_until.year == 2030


def test_admin_previews_a_policy_then_saves_it(
    live_server: LiveServer, browser: Any, artifacts: Path, tmp_path: Path
) -> None:
    policy_file = tmp_path / "config" / "policy.yaml"
    live_server.settings.policy = str(policy_file)
    page = _admin_page(live_server, browser)
    page.click("nav >> text=Policy")
    page.wait_for_url("**/cockpit/policy")
    page.fill("#policy-text", "version: 1\nmax_rounds: 0\n")
    page.click("#policy-form button")
    assert "max_rounds" in page.inner_text("#policy-error")
    page.fill("#policy-text", "version: 1\nname: two rounds\nmax_rounds: 2\n")
    page.click("#policy-form button")
    page.wait_for_selector("#policy-preview")
    assert "lead(s) of the last 90 days replayed" in page.inner_text("#policy-preview")
    assert not policy_file.exists()  # a preview saves nothing
    page.screenshot(path=str(artifacts / "self-service-3-policy-preview.png"), full_page=True)
    page.click("#policy-save button")
    page.wait_for_selector("#policy-notice")
    assert "saved and in force" in page.inner_text("#policy-notice")
    assert yaml.safe_load(policy_file.read_text())["max_rounds"] == 2
    assert "(in force)" in page.inner_text("#revisions")
    page.screenshot(path=str(artifacts / "self-service-4-policy-saved.png"), full_page=True)
