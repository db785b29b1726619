"""Partner self-service in the inbox: pause, holidays and capacity saved to the partner's own record
(validated, nothing lost on a bad value), resume at once, and the company's own users listed."""

from __future__ import annotations

import html
from datetime import UTC, date, datetime, timedelta

from leadbridge.core.partners import PartnerRepository
from leadbridge.web.accounts import create_partner_user
from tests.web.conftest import World, csrf_from


def _partner(world: World, partner_id: str):  # type: ignore[no-untyped-def]
    with world.database.transaction() as session:
        return PartnerRepository(session).get(partner_id)


def _english(world: World):  # type: ignore[no-untyped-def]
    client = world.partner_client(world.user_a)  # user A reads German: these tests read English
    client.post("/inbox/language", data={"csrf_token": csrf_from(client, "/inbox"), "language": "en"})
    return client


def test_a_partner_pauses_sets_holidays_and_capacity_then_resumes(world: World) -> None:
    client = _english(world)
    assert "You are taking leads." in client.get("/inbox/availability").text
    token = csrf_from(client, "/inbox/availability")
    back = (datetime.now(UTC) + timedelta(days=3)).date()
    form = {
        "csrf_token": token,
        "paused_until": back.isoformat(),
        "holidays": "2026-12-24\n2026-12-31, 2026-12-24",
    }
    form |= {"max_open": "5", "per_day": "2", "per_week": "", "per_month": "30"}
    answer = client.post("/inbox/availability", data=form)
    assert answer.status_code == 303
    stored = _partner(world, world.partner_a)
    assert stored.availability.paused_until == datetime(back.year, back.month, back.day, tzinfo=UTC)
    assert stored.availability.holidays == [date(2026, 12, 24), date(2026, 12, 31)]
    assert (stored.capacity.max_open, stored.capacity.per_day, stored.capacity.per_week) == (5, 2, None)
    assert stored.capacity.per_month == 30
    assert stored.is_paused(datetime.now(UTC)) and not stored.is_paused(datetime.now(UTC) + timedelta(days=4))
    page = client.get(answer.headers["location"]).text
    assert "Saved." in page and "You are paused" in page and 'value="5"' in page
    assert _partner(world, world.partner_b).availability.paused_until is None  # only its own record
    resumed = client.post("/inbox/availability/resume", data={"csrf_token": token})
    assert resumed.status_code == 303
    assert _partner(world, world.partner_a).availability.paused_until is None
    assert "You are taking leads again." in client.get(resumed.headers["location"]).text
    assert _partner(world, world.partner_a).capacity.max_open == 5  # resuming keeps the rest


def test_a_bad_value_says_what_is_wrong_keeps_what_was_typed_and_saves_nothing(world: World) -> None:
    client = _english(world)
    token = csrf_from(client, "/inbox/availability")
    cases = {
        "paused_until": ("24.12.2026", "is not a date"),
        "holidays": ("2026-12-24\nchristmas", "'christmas' is not a date"),
        "max_open": ("-1", "is not a whole number"),
        "per_day": ("2.5", "is not a whole number"),
    }
    for field, (value, message) in cases.items():
        form = {"csrf_token": token, "max_open": "7", "holidays": "2026-12-31", field: value}
        answer = client.post("/inbox/availability", data=form)
        assert answer.status_code == 400, field
        assert message in html.unescape(answer.text), field
        assert value.split("\n")[-1] in answer.text  # what was typed is shown again
    stored = _partner(world, world.partner_a)
    assert stored.capacity.max_open is None and stored.availability.holidays == []


def test_the_page_lists_the_users_of_the_own_company_only(world: World) -> None:
    with world.database.transaction() as session:
        create_partner_user(session, world.partner_a, "carla@alpha.example", name="Carla Colleague")
        create_partner_user(session, world.partner_b, "other@beta.example", name="Not Mine")
    page = world.partner_client(world.user_a).get("/inbox/availability").text
    assert 'href="mailto:carla@alpha.example"' in page and "Carla Colleague" in page
    assert "other@beta.example" not in page and "bert@beta.example" not in page
    assert "Verfügbarkeit" in page  # in the user's language
