"""Campaign costs in the cockpit: entered by hand and imported, validated, and counted by the
campaign ROI report."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from leadbridge.core.reports.campaigns import campaign_roi
from leadbridge.core.reports.costs import CampaignCostRow
from tests.web.conftest import World, csrf_from


def _costs(world: World) -> list[tuple[str, str, Decimal, str]]:
    with world.database.transaction() as session:
        rows = session.scalars(select(CampaignCostRow).order_by(CampaignCostRow.id))
        return [(r.campaign, r.spent_on.isoformat(), r.amount, r.currency) for r in rows]


def test_given_a_cost_typed_in_the_cockpit_then_the_roi_report_counts_it(world: World) -> None:
    admin = world.admin_client()
    token = csrf_from(admin, "/cockpit/costs")
    form = {
        "csrf_token": token,
        "campaign": "spring-fair",
        "date": "2026-10-03",
        "amount": "1200.5",
        "note": "booth",
    }
    answer = admin.post("/cockpit/costs", data=form)
    assert answer.status_code == 303 and answer.headers["location"].endswith("done=added")
    assert _costs(world) == [("spring-fair", "2026-10-03", Decimal("1200.50"), "EUR")]
    again = admin.post("/cockpit/costs", data=form)  # a double submit adds nothing
    assert again.headers["location"].endswith("done=same") and len(_costs(world)) == 1
    page = admin.get("/cockpit/costs").text
    assert "spring-fair" in page and "1200.50 EUR" in page and "booth" in page
    with world.database.transaction() as session:
        report = {c.total.campaign: c.total for c in campaign_roi(session)}
    assert report["spring-fair"].cost == Decimal("1200.50")


def test_given_a_bad_field_then_the_form_says_what_is_wrong_keeps_the_values_and_saves_nothing(
    world: World,
) -> None:
    admin = world.admin_client()
    token = csrf_from(admin, "/cockpit/costs")
    cases = {
        "amount": ("-5", "must be a number from 0"),
        "date": ("03.10.2026", "is not YYYY-MM-DD"),
        "campaign": ("  ", "campaign is empty"),
        "currency": ("EURO", "is not a 3-letter code"),
    }
    for field, (value, message) in cases.items():
        form = {
            "campaign": "webinar",
            "date": "2026-10-15",
            "amount": "300",
            "currency": "EUR",
            "note": "kept note",
        }
        form[field] = value
        answer = admin.post("/cockpit/costs", data={"csrf_token": token, **form})
        assert answer.status_code == 400, field
        assert message in answer.text, field
        assert 'value="kept note"' in answer.text  # nothing typed is lost
    assert _costs(world) == []
    assert admin.post(
        "/cockpit/costs", data={"campaign": "x", "date": "2026-10-15", "amount": "1"}
    ).status_code in (
        400,
        403,
    )  # no CSRF token: refused
    assert _costs(world) == []


def test_given_a_csv_upload_then_all_rows_or_none_are_stored_and_every_bad_line_is_named(
    world: World,
) -> None:
    admin = world.admin_client()
    token = csrf_from(admin, "/cockpit/costs")
    bad = "campaign,date,amount\nwebinar,2026-10-15,300\nprint,15.10.2026,99\nads,2026-10-16,abc\n"
    answer = admin.post(
        "/cockpit/costs/import",
        data={"csrf_token": token},
        files={"file": ("costs.csv", bad.encode(), "text/csv")},
    )
    assert answer.status_code == 400
    assert "costs.csv:3" in answer.text and "costs.csv:4" in answer.text
    assert _costs(world) == []
    good = "campaign,date,amount,currency\nwebinar,2026-10-15,300,eur\n" + "print,2026-10-15,99.99,EUR\n" * 2
    answer = admin.post(
        "/cockpit/costs/import",
        data={"csrf_token": token},
        files={"file": ("costs.csv", good.encode(), "text/csv")},
    )
    assert answer.status_code == 303
    assert "Imported 2 cost(s); 1 stored already." in admin.get(answer.headers["location"]).text
    assert sorted(_costs(world)) == [
        ("print", "2026-10-15", Decimal("99.99"), "EUR"),
        ("webinar", "2026-10-15", Decimal("300.00"), "EUR"),
    ]
    with world.database.transaction() as session:
        cost_id = session.scalars(select(CampaignCostRow.id).where(CampaignCostRow.campaign == "print")).one()
    assert admin.post(f"/cockpit/costs/{cost_id}/delete", data={"csrf_token": token}).status_code == 303
    assert [c[0] for c in _costs(world)] == ["webinar"]


def test_the_cost_pages_need_an_admin(world: World) -> None:
    client = world.client()
    assert client.get("/cockpit/costs").status_code in (303, 401)
