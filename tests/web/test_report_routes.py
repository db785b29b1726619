"""Report pages, the report API and the cockpit lead download, through the real app."""

from __future__ import annotations

import csv
import html
import io
import re
from decimal import Decimal

from openpyxl import load_workbook

from leadbridge.core.leads import LeadService
from leadbridge.web.accounts import create_api_key
from tests.builders import a_lead
from tests.reports.history import script
from tests.web.conftest import World, csrf_from


def _history(world: World) -> None:
    with world.database.transaction() as session:
        script(session, size=30)


def test_given_history_when_the_admin_opens_each_report_then_charts_and_rows_show(world: World) -> None:
    _history(world)
    client = world.admin_client()
    for name in ("partners", "campaigns", "regions", "products", "quality", "weekly", "monthly"):
        page = client.get(f"/cockpit/reports/{name}?since=2026-10-01&until=2026-12-31")
        assert page.status_code == 200, page.text
        assert page.text.count("<svg") >= 2
    monthly = client.get("/cockpit/reports/monthly?since=2026-10-01&until=2026-12-31").text
    assert all(month in monthly for month in ("2026-10-01", "2026-11-01", "2026-12-01"))
    assert "Median hours to first contact" in monthly
    partners = client.get("/cockpit/reports/partners").text
    assert "Müller GmbH" in partners and "network median" in partners


def test_given_no_session_then_reports_and_downloads_need_a_sign_in(world: World) -> None:
    client = world.client()
    for path in ("/cockpit/reports/partners", "/cockpit/reports/partners.csv", "/cockpit/export/leads.csv"):
        answer = client.get(path)
        assert answer.status_code in (303, 401), path
    assert client.get("/api/v1/reports/partners").status_code == 401


def test_given_an_admin_key_then_the_api_returns_rows_and_rejects_unknown_reports(
    world: World,
) -> None:
    _history(world)
    with world.database.transaction() as session:
        key = create_api_key(session, "bi")[1]
    client = world.client()
    client.headers["Authorization"] = f"Bearer {key}"
    rows = client.get("/api/v1/reports/campaigns", params={"campaign": "webinar"}).json()
    assert {r["campaign"] for r in rows} == {"webinar"}
    total = next(r for r in rows if r["partner_name"] == "all")
    assert Decimal(total["cost"]) == Decimal("300.00")
    assert client.get("/api/v1/reports/nothing").status_code == 404
    assert client.get("/api/v1/reports/partners", params={"since": "yesterday"}).status_code == 422


def test_report_csv_download_neutralises_formula_names(world: World) -> None:
    with world.database.transaction() as session:
        lead = a_lead(campaign="=cmd|' /C calc'!A0")
        LeadService(session).receive(lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}")
    answer = world.admin_client().get("/cockpit/reports/campaigns.csv")
    assert answer.status_code == 200
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert "'=cmd|' /C calc'!A0" in {r["campaign"] for r in rows}


def test_given_leads_when_admin_downloads_csv_and_xlsx_then_filtered_and_neutralised(
    world: World,
) -> None:
    with world.database.transaction() as session:
        for company in ("=SUM(A1:A9)", "@evil", "Good GmbH"):
            lead = a_lead(company=company, campaign="fair")
            LeadService(session).receive(lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}")
    client = world.admin_client()
    answer = client.get("/cockpit/export/leads.csv", params={"campaign": "fair"})
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert sorted(r["company"] for r in rows) == ["'=SUM(A1:A9)", "'@evil", "Good GmbH"]
    everything = client.get("/cockpit/export/leads.csv").content.decode("utf-8-sig")
    assert len(list(csv.DictReader(io.StringIO(everything)))) == 5  # with the world's two leads
    book = client.get("/cockpit/export/leads.xlsx", params={"campaign": "fair"})
    assert book.status_code == 200
    sheet = load_workbook(io.BytesIO(book.content))["leads"]
    header, *cells = list(sheet.iter_rows(values_only=True))
    companies = sorted(str(row[header.index("company")]) for row in cells)
    assert companies == ["'=SUM(A1:A9)", "'@evil", "Good GmbH"]


def test_timeline_reads_as_sentences_with_the_raw_payload_one_click_away(world: World) -> None:
    client = world.partner_client(world.user_b)
    token = csrf_from(client, "/inbox")
    answer = client.post(
        f"/inbox/offers/{world.offer_b}/decline",
        data={"csrf_token": token, "reason_code": "no_capacity", "comment": "full until May"},
    )
    assert answer.status_code in (200, 303), answer.text
    page = world.admin_client().get(f"/cockpit/leads/{world.lead_b}").text
    assert "Declined by Beta Solar: No capacity — “full until May”" in page
    assert "Offered to Beta Solar" in page
    raw = re.search(r"<details><summary>decline</summary><code class=\"raw\">(.*?)</code>", page)
    assert raw is not None and "no_capacity" in html.unescape(raw.group(1))


def test_a_partner_sees_its_own_scorecard_and_the_network_median_only(world: World) -> None:
    for partner in (world.partner_a, world.partner_a, world.partner_b):
        world.offer(partner)
    client = world.partner_client(world.user_a)
    token = csrf_from(client, "/inbox")
    assert client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": token}).status_code == 303
    client_b = world.partner_client(world.user_b)
    token_b = csrf_from(client_b, "/inbox")
    client_b.post(
        f"/inbox/offers/{world.offer_b}/decline", data={"csrf_token": token_b, "reason_code": "no_capacity"}
    )
    page = client.get("/inbox/scorecard")
    assert page.status_code == 200
    table = page.text[page.text.index('id="scorecard"') :]
    assert "Beta Solar" not in page.text
    # Alpha accepted its one answered offer (100 %), Beta declined its one (0 %): the median is 50 %.
    cells = r"\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>"
    row = re.search(r"<th>Acceptance rate</th>" + cells, table)
    assert row is not None, table[:600]
    assert row.group(1).strip() == "100 %" and row.group(2).strip() == "50 %"
    assert world.client().get("/inbox/scorecard").status_code in (303, 401)
