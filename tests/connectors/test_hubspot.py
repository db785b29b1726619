"""The HubSpot connector against a sandbox portal through the real hubspot-api-client: search windows
under the result cap, pacing, companies, write-back with per-item errors, the 429 policies."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from leadbridge.connectors.hubspot import HubSpotConnector, Pacer
from leadbridge.connectors.hubspot.connector import parse_filter
from leadbridge.connectors.hubspot.keyset import KeysetQuery, keyset_pages
from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import ConfigError, QuotaExhausted
from leadbridge.core.settings import Settings
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.ports import Action, Change, Checkpoint, WriteItem, advance
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.search import SearchLimits
from leadbridge.sync.connections import connector_for
from tests.builders import a_lead
from tests.connectors.sandbox_hubspot import FakeTime, HubSpotHarness, add_contacts


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox.plan(partners=0, leads=0, seed=5, services=["hubspot"]) as running:
        yield running


@pytest.fixture
def harness(box: Sandbox) -> Iterator[HubSpotHarness]:
    portal = box.hubspot.portal("manufacturer")
    for record in list(portal.store("contacts").live()):  # every test starts on an empty portal
        portal.archive("contacts", record)
    portal.faults.clear()
    portal.counters.reset()
    portal.limits.configure(ten_secondly=190, daily=625_000)
    portal.limits.retry_after = None
    yield HubSpotHarness(portal, box.hubspot.base_url(), box.ca_file)
    portal.search_limits = SearchLimits()


def read_all(connector: Any, since: Checkpoint | None = None) -> tuple[list[Change], Checkpoint | None]:
    return read_all_of(connector, "contacts", since)


def read_all_of(
    connector: Any, stream: str, since: Checkpoint | None = None
) -> tuple[list[Change], Checkpoint | None]:
    taken: list[Change] = []
    for page in connector.read_changes(stream, since):
        taken += page
        since = advance(since, page, connector.lookback)
    return taken, since


# -- reading ---------------------------------------------------------------------------------------
def test_given_more_matches_than_the_result_cap_when_reading_then_windows_narrow_and_nothing_is_lost(
    harness: HubSpotHarness,
) -> None:
    harness.portal.search_limits = SearchLimits(max_results=50)  # HubSpot's 10,000, scaled down
    ids = add_contacts(harness.portal, 70, same_stamp=True)  # one stamp fills more than a window
    for _ in range(4):
        ids += add_contacts(harness.portal, 20, same_stamp=True)
    ids += add_contacts(harness.portal, 40, same_stamp=False)
    connector = harness.connector(window_size=10_000, search_cap=50)
    taken, _ = read_all(connector)
    assert sorted(c.external_id for c in taken) == sorted(ids)
    assert harness.portal.counters.snapshot().get("contacts.search", 0) >= 190 // 50  # it had to narrow


def test_given_a_fake_page_source_when_one_stamp_exceeds_the_cap_then_ids_break_the_tie() -> None:
    records = [{"id": str(100 + n), "properties": {"m": "5"}} for n in range(25)]
    records += [{"id": str(200 + n), "properties": {"m": "7"}} for n in range(3)]
    bodies: list[dict[str, Any]] = []

    def search(body: dict[str, Any]) -> dict[str, Any]:
        bodies.append(body)
        assert int(body["after"]) < 10, "never page past the cap"
        hits = list(records)
        for f in body["filterGroups"][0]["filters"]:
            value = int(f["value"])
            key = (
                (lambda r: int(r["id"]))
                if f["propertyName"] == "hs_object_id"
                else (lambda r: int(r["properties"]["m"]))
            )
            ops = {"GTE": value.__le__, "GT": value.__lt__, "EQ": value.__eq__}
            hits = [r for r in hits if ops[f["operator"]](key(r))]
        sort = body["sorts"][0]["propertyName"]
        hits.sort(
            key=lambda r: (
                int(r["id"]) if sort == "hs_object_id" else int(r["properties"]["m"]),
                int(r["id"]),
            )
        )
        start = int(body["after"])
        page = hits[start : start + body["limit"]]
        following = start + body["limit"]
        return {
            "results": page,
            "paging": {"next": {"after": str(following)}} if following < len(hits) else {},
        }

    query = KeysetQuery("m", page_size=5, window_size=10, cap=10)
    seen = [r["id"] for page in keyset_pages(search, query, 1) for r in page]
    assert sorted(set(seen)) == sorted(r["id"] for r in records)
    assert any(f["operator"] == "EQ" for b in bodies for f in b["filterGroups"][0]["filters"])


def test_given_contacts_with_a_company_when_reading_then_the_company_fills_what_the_contact_lacks(
    harness: HubSpotHarness,
) -> None:
    company = harness.portal.create(
        "companies",
        {"name": "Kessler Haustechnik GmbH", "numberofemployees": "42", "zip": "80331", "city": "München",
         "country": "Germany", "industry": "construction"},
    )  # fmt: skip
    [with_address] = add_contacts(harness.portal, 1, same_stamp=False, company_id=company.id)
    [without] = add_contacts(harness.portal, 1, same_stamp=False, company_id=company.id, zip="", city="")
    connector = harness.connector()
    taken, _ = read_all(connector)
    leads = {c.external_id: connector.lead_from(c) for c in taken}
    assert leads[with_address].employees == 42 and leads[with_address].account_id == company.id
    assert leads[with_address].address.postal_code != "80331"  # the contact's own address wins
    assert leads[without].address.postal_code == "80331" and leads[without].address.city == "München"


def test_given_many_pages_when_reading_then_searches_are_paced_under_five_per_second(
    harness: HubSpotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    add_contacts(harness.portal, 60, same_stamp=False)
    connector = harness.connector()
    with caplog.at_level(logging.WARNING, logger="leadbridge.retry"):
        taken, _ = read_all(connector)
    searches = harness.portal.counters.snapshot()["contacts.search"]
    assert len(taken) == 60 and searches >= 7
    assert not [r for r in caplog.records if "backing off" in r.getMessage()], "no secondly 429 was needed"
    assert harness.time.now - 1_000.0 >= (searches - 5) / 5  # the pacer waited, on simulated time


def test_given_no_pacing_when_searching_fast_then_the_secondly_429_is_retried_after_one_second(
    harness: HubSpotHarness,
) -> None:
    add_contacts(harness.portal, 60, same_stamp=False)
    connector = harness.connector()
    connector.client.pacer = Pacer(1_000, clock=harness.time.monotonic, sleep=harness.time.sleep)
    taken, _ = read_all(connector)
    assert len(taken) == 60
    # SECONDLY without Retry-After → the 1 s window, plus the policy's spread (base 0.5 s)
    assert harness.time.sleeps and all(1.0 <= wait <= 1.5 for wait in harness.time.sleeps)


# -- writing ---------------------------------------------------------------------------------------
def test_given_a_write_back_twice_when_writing_then_the_same_records_change_once(
    harness: HubSpotHarness,
) -> None:
    ids = add_contacts(harness.portal, 3, same_stamp=False)
    connector = harness.connector()
    items = [WriteItem(f"k{n}", {"leadbridge_status": "offered", "leadbridge_partner": "Kessler"}, i)
             for n, i in enumerate(ids)]  # fmt: skip
    first = connector.write_batch("contacts", items)
    second = connector.write_batch("contacts", items)
    assert [r.remote_id for r in first] == [r.remote_id for r in second] == ids
    assert all(r.ok for r in [*first, *second])
    assert {harness.portal.store("contacts").get(i).properties["leadbridge_status"] for i in ids} == {
        "offered"
    }


def test_given_one_bad_item_when_writing_then_only_it_is_skipped_with_its_reason(
    harness: HubSpotHarness,
) -> None:
    ids = add_contacts(harness.portal, 2, same_stamp=False)
    connector = harness.connector()
    items = [
        WriteItem("good", {"leadbridge_status": "accepted"}, ids[0]),
        WriteItem("bad", {"lead_score": "not a number"}, ids[1]),
        WriteItem("gone", {"leadbridge_status": "accepted"}, "19999999"),
    ]
    good, bad, gone = connector.write_batch("contacts", items)
    assert good.ok and not bad.ok and not gone.ok
    assert bad.action is Action.SKIP and "lead_score" in (bad.error or "")
    assert gone.action is Action.SKIP and "OBJECT_NOT_FOUND" in (gone.error or "")


def test_given_an_upsert_whose_email_belongs_to_another_contact_then_it_lands_without_the_email(
    harness: HubSpotHarness,
) -> None:
    [existing] = add_contacts(harness.portal, 1, same_stamp=False, email="kim@example.org")
    connector = harness.connector()
    [result] = connector.write_batch(
        "contacts:upsert",
        [WriteItem("k", {"leadbridge_id": "L-dup", "lastname": "Kim", "email": "kim@example.org"})],
    )
    assert result.ok and result.remote_id != existing
    assert harness.portal.store("contacts").get(str(result.remote_id)).properties.get("email", "") == ""


def test_given_more_than_a_batch_when_upserting_then_batches_of_100_go_out(harness: HubSpotHarness) -> None:
    connector = harness.connector()
    items = [WriteItem(f"k{n}", {"leadbridge_id": f"L-many{n}", "lastname": f"N{n}"}) for n in range(230)]
    results = connector.write_batch("contacts:upsert", items)
    assert all(r.ok and r.created for r in results) and len({r.remote_id for r in results}) == 230
    assert harness.portal.counters.snapshot()["contacts.batch.upsert"] == 3


# -- limits ----------------------------------------------------------------------------------------
def _fill_ten_second_window(harness: HubSpotHarness) -> None:
    harness.portal.limits.configure(ten_secondly=3)
    while harness.portal.limits.admit(search=False).policy is None:
        pass  # the window now holds 3 calls made at this (simulated) moment


def test_given_the_ten_second_window_is_full_when_writing_then_it_waits_ten_seconds(
    harness: HubSpotHarness,
) -> None:
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    connector = harness.connector()
    _fill_ten_second_window(harness)
    [result] = connector.write_batch("contacts", [WriteItem("k", {"leadbridge_status": "offered"}, contact)])
    assert result.ok and len(harness.time.sleeps) == 1 and 10.0 <= harness.time.sleeps[0] <= 10.5


def test_given_retry_after_on_a_429_when_writing_then_it_is_honoured(harness: HubSpotHarness) -> None:
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    connector = harness.connector()
    _fill_ten_second_window(harness)
    harness.portal.limits.configure(retry_after=4)
    [result] = connector.write_batch("contacts", [WriteItem("k", {"leadbridge_status": "offered"}, contact)])
    assert result.ok and len(harness.time.sleeps) == 3  # the window empties after 10 s
    assert all(4.0 <= wait <= 4.5 for wait in harness.time.sleeps)  # Retry-After, never sooner


def test_given_the_daily_limit_is_reached_then_reads_and_writes_stop_for_quota(
    harness: HubSpotHarness,
) -> None:
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    connector = harness.connector()
    harness.allow_calls(0)
    with pytest.raises(QuotaExhausted, match="daily"):
        read_all(connector)
    with pytest.raises(QuotaExhausted):
        connector.write_batch("contacts", [WriteItem("k", {"leadbridge_status": "x"}, contact)])
    assert harness.time.sleeps == []  # no retry burnt on a quota stop


def test_given_usage_past_the_stop_share_when_calling_then_it_stops_before_the_limit(
    harness: HubSpotHarness,
) -> None:
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    connector = harness.connector(quota_stop_share=0.5)
    quota = harness.portal.faults.quota
    harness.portal.limits.configure(daily=quota.used * 2 + 10, daily_used=quota.used + 10)
    item = WriteItem("k", {"leadbridge_status": "x"}, contact)
    assert connector.write_batch("contacts", [item])[0].ok  # learns the usage from the headers
    before = quota.used
    with pytest.raises(QuotaExhausted, match="stop share"):
        connector.write_batch("contacts", [item])
    assert quota.used == before  # stopped before calling


def test_given_5xx_answers_and_dropped_connections_when_syncing_then_retries_carry_it_through(
    harness: HubSpotHarness,
) -> None:
    ids = add_contacts(harness.portal, 40, same_stamp=False)
    harness.portal.faults.set("contacts.search", error_rate=0.3, error="unavailable")
    harness.portal.faults.set("contacts.batch.update", drop_rate=0.3)
    harness.portal.faults.set("associations.batch.read", error_rate=0.3, error="bad_gateway")
    connector = harness.connector()
    taken, _ = read_all(connector)
    items = [WriteItem(f"k{n}", {"leadbridge_status": "offered"}, i) for n, i in enumerate(ids)]
    results = [
        r for chunk in range(0, 40, 5) for r in connector.write_batch("contacts", items[chunk : chunk + 5])
    ]
    assert sorted(c.external_id for c in taken) == sorted(ids)
    assert all(r.ok for r in results)
    assert len(harness.time.sleeps) >= 2  # some calls failed and were retried


def test_given_slow_answers_when_pacing_then_the_window_counts_from_each_answer() -> None:
    fake = FakeTime()
    pacer = Pacer(2, clock=fake.monotonic, sleep=fake.sleep)
    for _ in range(2):
        pacer.wait()
        fake.now += 0.4  # the answer takes 0.4 s to arrive
        pacer.settle()
    pacer.wait()  # the first answer arrived at +0.4: the third call may leave at +1.4, not +1.0
    assert fake.now == pytest.approx(1_001.401)


def test_given_a_qualification_filter_then_it_becomes_search_filters_or_a_clear_error() -> None:
    assert parse_filter(
        "lifecyclestage IN marketingqualifiedlead,salesqualifiedlead AND lead_score GTE 50"
    ) == (
        {
            "propertyName": "lifecyclestage",
            "operator": "IN",
            "values": ["marketingqualifiedlead", "salesqualifiedlead"],
        },
        {"propertyName": "lead_score", "operator": "GTE", "value": "50"},
    )
    with pytest.raises(ConfigError, match="OPERATOR"):
        parse_filter("lifecyclestage = mql")
    with pytest.raises(ConfigError, match="at most 4"):
        parse_filter(" AND ".join(f"p{n} HAS_PROPERTY" for n in range(5)))


def test_given_a_deal_mapping_when_pushing_offers_then_deals_carry_them_and_their_outcome_comes_back(
    box: Sandbox,
) -> None:
    portal = box.hubspot.portal("manufacturer")
    partner = HubSpotHarness(portal, box.hubspot.base_url(), box.ca_file, role="partner")
    connector = partner.connector(name="p1", object="deals")
    lead = a_lead(company="Kessler Haustechnik GmbH", industry="construction")
    status = LeadStatusRecord(lead_id=lead.id)
    blind = connector.partner_fields(lead, status, accepted=False, withdrawn=False, first_push=True)
    assert "Kessler" not in blind["dealname"] and blind["dealstage"] == "appointmentscheduled"
    [pushed] = connector.write_batch("deals:upsert", [WriteItem("k", blind)])
    [again] = connector.write_batch("deals:upsert", [WriteItem("k", blind)])
    assert pushed.ok and pushed.created and again.remote_id == pushed.remote_id and not again.created
    portal.edit_as_user("deals", str(pushed.remote_id), {"dealstage": "closedwon", "amount": "12500"})
    taken, _ = read_all_of(connector, "deals")
    [change] = [c for c in taken if c.external_id == pushed.remote_id]
    update = connector.partner_status(change)
    assert (update.lead_id, update.status, update.meaning) == (lead.id, "closedwon", "won")
    assert float(update.amount or 0) == 12_500


def test_given_search_lags_behind_writes_when_reading_then_late_records_come_in_the_next_read(
    harness: HubSpotHarness,
) -> None:
    portal = harness.portal
    portal.search_lag_seconds = 5
    portal.clock.freeze()
    try:
        ids = add_contacts(portal, 3, same_stamp=False)
        connector = harness.connector()
        assert read_all(connector) == ([], None)  # written, not yet searchable
        portal.clock.advance(6)
        taken, checkpoint = read_all(connector)
        assert sorted(c.external_id for c in taken) == sorted(ids)
        assert read_all(connector, checkpoint)[0] == []
    finally:
        portal.search_lag_seconds = 0
        portal.clock.reset()


def test_given_hubspot_connections_in_the_settings_then_the_sync_engine_builds_hubspot_connectors() -> None:
    registry = default_registry()
    settings = Settings(
        connections={
            "home": registry.connection({"name": "home", "kind": "hubspot", "access_token": "pat-x"}),
            "p1": registry.connection(
                {
                    "name": "p1",
                    "kind": "hubspot",
                    "role": "partner",
                    "object": "deals",
                    "access_token": "pat-y",
                }
            ),
        }
    )
    home, partner = connector_for(settings, "home"), connector_for(settings, "p1")
    assert isinstance(home, HubSpotConnector) and isinstance(partner, HubSpotConnector)
    assert (home.object, home.stamp_property, partner.object, partner.stamp_property) == (
        "contacts", "lastmodifieddate", "deals", "hs_lastmodifieddate"
    )  # fmt: skip
    assert home.client.calls == 0  # nothing is called until the connector is used
