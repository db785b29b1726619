"""The partner scorecard and the campaign ROI page in Chromium: an admin signs in, narrows the range
with the filter form, and reads the figures the scripted history holds; screenshots are saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadbridge.web.accounts import create_admin
from tests.browser.conftest import LiveServer
from tests.reports.history import script

PASSWORD = "correct horse battery"


def _signed_in(live_server: LiveServer, browser: Any) -> Any:
    with live_server.database.transaction() as session:
        create_admin(session, "admin@maker.example", PASSWORD)
        history = script(session, size=40)
    desk = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = desk.new_page()
    page.goto(f"{live_server.url}/cockpit/login")
    page.fill("input[name=email]", "admin@maker.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(f"{live_server.url}/cockpit")
    return page, history


def test_admin_reads_the_partner_scorecard_for_a_range(
    live_server: LiveServer, browser: Any, artifacts: Path
) -> None:
    page, history = _signed_in(live_server, browser)
    page.click("nav >> text=Reports")
    page.wait_for_url("**/cockpit/reports/partners")
    table = page.inner_text("#report-table")
    for name in history.partners.values():
        assert name in table
    assert "network median" in table
    assert page.locator("svg.chart").count() == 4  # acceptance, hours to accept, to first contact, revenue
    page.fill("input[name=since]", "2026-10-10")
    page.fill("input[name=until]", "2026-11-20")
    page.click("#report-filters button")
    page.wait_for_url("**since=2026-10-10**")
    assert page.input_value("input[name=since]") == "2026-10-10"
    assert "Acceptance rate" in page.inner_text("body")
    page.screenshot(path=str(artifacts / "reports-1-scorecard.png"), full_page=True)


def test_admin_reads_campaign_roi_with_costs(live_server: LiveServer, browser: Any, artifacts: Path) -> None:
    page, _ = _signed_in(live_server, browser)
    page.goto(f"{live_server.url}/cockpit/reports/campaigns")
    rows = page.locator("#report-table tbody tr.total")
    campaigns = {rows.nth(i).locator("td").first.inner_text() for i in range(rows.count())}
    assert {"spring-fair", "webinar", "print"} <= campaigns
    fair = page.locator("#report-table tbody tr.total", has_text="spring-fair").inner_text()
    assert "2000.50" in fair  # both of its costs
    assert page.locator("svg.chart[aria-label='ROI']").count() == 1
    page.screenshot(path=str(artifacts / "reports-2-campaign-roi.png"), full_page=True)
    with page.expect_download() as download:
        page.click("text=Download CSV")
    saved = artifacts / "reports-campaigns.csv"
    download.value.save_as(saved)
    assert "spring-fair" in saved.read_text()
