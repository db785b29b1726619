"""The HubSpot stand-in through the real hubspot-api-client (client_side_validation=True, HTTPS).

Every answer is deserialised by the client's own models, so a missing required field or a wrong
success status (the client returns None for an unexpected 2xx) fails these tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import count

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.companies import ApiException as CompaniesApiException
from hubspot.crm.companies import PublicObjectSearchRequest as CompaniesSearch
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    BatchInputSimplePublicObjectBatchInputForCreate,
    BatchInputSimplePublicObjectBatchInputUpsert,
    BatchInputSimplePublicObjectId,
    BatchReadInputSimplePublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import NotFoundException

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.client import hubspot_client_from_info
from leadbridge.sandbox.hubspot.service import HubSpotService

_unique = count(1)


@pytest.fixture(scope="module")
def service() -> Iterator[HubSpotService]:
    with Sandbox.plan(services=["hubspot"], leads=40, seed=11) as box:
        service = box.hubspot
        # These tests are about shapes and semantics; the limits have their own test module.
        service.portal().limits.configure(search_per_second=10_000, ten_secondly=10_000)
        yield service


@pytest.fixture(scope="module")
def hs(service: HubSpotService) -> HubSpot:
    return service.client()


def _email() -> str:
    return f"person{next(_unique)}@example.org"


def test_given_token_when_creating_reading_updating_archiving_contact_then_real_statuses(hs, service):
    contacts = hs.crm.contacts.basic_api
    created = contacts.create(
        SimplePublicObjectInputForCreate(properties={"email": "Kim@Example.org", "firstname": "Kim"})
    )
    assert created is not None, "create must answer 201 (the client returns None otherwise)"
    assert created.properties["email"] == "kim@example.org"
    assert created.properties["hs_object_id"] == created.id
    assert created.created_at == created.updated_at

    by_email = contacts.get_by_id("kim@example.org", id_property="email", properties=["firstname"])
    assert by_email.id == created.id and by_email.properties["firstname"] == "Kim"

    updated = contacts.update(created.id, SimplePublicObjectInput(properties={"lead_score": 42}))
    assert updated.properties["lead_score"] == "42", "every property value is a string"
    assert updated.updated_at >= created.updated_at

    assert contacts.archive(created.id) is None
    with pytest.raises(NotFoundException):
        contacts.get_by_id(created.id)
    archived = contacts.get_by_id(created.id, archived=True)
    assert archived.archived is True and archived.archived_at is not None


def test_given_duplicate_email_when_creating_then_409_conflict_names_existing_id(hs):
    contacts = hs.crm.contacts.basic_api
    email = _email()
    first = contacts.create(SimplePublicObjectInputForCreate(properties={"email": email}))
    with pytest.raises(ApiException) as caught:
        contacts.create(SimplePublicObjectInputForCreate(properties={"email": email.upper()}))
    assert caught.value.status == 409
    body = json.loads(caught.value.body)
    assert body["category"] == "CONFLICT" and f"Existing ID: {first.id}" in body["message"]


def test_given_unknown_or_read_only_property_when_creating_then_400_lists_each(hs):
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"no_such_prop": "x", "hs_object_id": "1"})
        )
    body = json.loads(caught.value.body)
    assert caught.value.status == 400 and body["category"] == "VALIDATION_ERROR"
    assert "PROPERTY_DOESNT_EXIST" in body["message"] and "READ_ONLY_VALUE" in body["message"]


def test_given_seeded_portal_when_paging_all_contacts_then_each_seen_once(hs):
    seen, after, pages = [], None, 0
    while True:
        page = hs.crm.contacts.basic_api.get_page(limit=15, after=after, properties=["email"])
        seen += [record.id for record in page.results]
        pages += 1
        if page.paging is None:
            break
        after = page.paging.next.after
    assert pages >= 3 and len(seen) == len(set(seen)) >= 40
    everything = hs.crm.contacts.get_all(properties=["email"])
    assert [r.id for r in everything] == seen


def test_given_object_with_associations_when_reading_then_v3_association_block(hs):
    page = hs.crm.contacts.basic_api.get_page(limit=1, associations=["companies"])
    block = page.results[0].associations["companies"].results
    assert {a.type for a in block} == {"contact_to_company", "contact_to_company_unlabeled"}


def test_given_101_inputs_when_batch_creating_then_400_and_nothing_written(hs, service):
    before = sum(1 for _ in service.portal().store("contacts").live())
    inputs = [{"properties": {"email": _email()}} for _ in range(101)]
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert caught.value.status == 400
    assert sum(1 for _ in service.portal().store("contacts").live()) == before


def test_given_traced_inputs_with_one_bad_when_batch_creating_then_207_with_per_item_error(hs):
    inputs = [
        {"properties": {"email": _email()}, "objectWriteTraceId": "row-1"},
        {"properties": {"email": _email(), "no_such_prop": "x"}, "objectWriteTraceId": "row-2"},
        {"properties": {"email": _email()}, "objectWriteTraceId": "row-3"},
    ]
    answer = hs.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert answer.status == "COMPLETE" and answer.num_errors == 1
    assert sorted(r.object_write_trace_id for r in answer.results) == ["row-1", "row-3"]
    error = answer.errors[0]
    assert error.category == "VALIDATION_ERROR" and error.context["objectWriteTraceId"] == ["row-2"]
    assert "PROPERTY_DOESNT_EXIST" in error.message


def test_given_untraced_inputs_with_one_bad_when_batch_creating_then_whole_request_fails(hs):
    inputs = [{"properties": {"email": _email()}}, {"properties": {"lead_score": "abc"}}]
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.batch_api.create(BatchInputSimplePublicObjectBatchInputForCreate(inputs=inputs))
    assert caught.value.status == 400 and "INVALID_INTEGER" in caught.value.body


def test_given_known_and_unknown_ids_when_batch_reading_then_207_names_missing(hs):
    known = hs.crm.contacts.basic_api.get_page(limit=2).results
    request = BatchReadInputSimplePublicObjectId(
        inputs=[{"id": known[0].id}, {"id": "999"}, {"id": known[1].id}], properties=["email"]
    )
    answer = hs.crm.contacts.batch_api.read(request)
    assert [r.id for r in answer.results] == [known[0].id, known[1].id]
    assert answer.errors[0].category == "OBJECT_NOT_FOUND" and answer.errors[0].context == {"ids": ["999"]}


def test_given_batch_update_then_200_and_values_changed(hs):
    records = hs.crm.contacts.basic_api.get_page(limit=2).results
    inputs = [{"id": r.id, "properties": {"hs_lead_status": "OPEN"}} for r in records]
    answer = hs.crm.contacts.batch_api.update(BatchInputSimplePublicObjectBatchInput(inputs=inputs))
    assert not hasattr(answer, "errors"), "all found: 200 with the plain batch model"
    assert {r.properties["hs_lead_status"] for r in answer.results} == {"OPEN"}


def test_given_custom_unique_property_when_upserting_twice_then_new_then_updated(hs):
    key = f"lb-{next(_unique)}"
    batch = hs.crm.contacts.batch_api
    first = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {
                    "id": key,
                    "idProperty": "leadbridge_id",
                    "properties": {"email": _email(), "firstname": "A"},
                }
            ]
        )
    )
    second = batch.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[{"id": key, "idProperty": "leadbridge_id", "properties": {"firstname": "B"}}]
        )
    )
    assert first.results[0].new is True and second.results[0].new is False
    assert first.results[0].id == second.results[0].id
    assert second.results[0].properties["firstname"] == "B"
    assert second.results[0].properties["leadbridge_id"] == key


def test_given_email_upsert_with_non_unique_id_property_then_rejected(hs):
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.batch_api.upsert(
            BatchInputSimplePublicObjectBatchInputUpsert(
                inputs=[{"id": "x", "idProperty": "firstname", "properties": {}}]
            )
        )
    assert caught.value.status == 400


def test_given_batch_archive_then_204_and_records_gone(hs):
    made = hs.crm.companies.basic_api.create(
        {"properties": {"name": "Archiv GmbH"}}  # plain dicts are sent as they are
    )
    assert (
        hs.crm.companies.batch_api.archive(BatchInputSimplePublicObjectId(inputs=[{"id": made.id}])) is None
    )
    with pytest.raises(Exception) as caught:
        hs.crm.companies.basic_api.get_by_id(made.id)
    assert caught.value.status == 404  # type: ignore[attr-defined]


def _search(hs: HubSpot, **request) -> object:
    return hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest(**request))


def test_given_filter_groups_when_searching_then_and_within_or_between(hs, service):
    store = service.portal().store("contacts")
    live = list(store.live())
    mql = {r.id for r in live if r.properties.get("lifecyclestage") == "marketingqualifiedlead"}
    high = {r.id for r in live if float(r.properties.get("lead_score", 0)) >= 80}
    answer = _search(
        hs,
        filter_groups=[
            {
                "filters": [
                    {"propertyName": "lifecyclestage", "operator": "EQ", "value": "marketingqualifiedlead"}
                ]
            },
            {"filters": [{"propertyName": "lead_score", "operator": "GTE", "value": "80"}]},
        ],
        limit=200,
    )
    assert {r.id for r in answer.results} == mql | high and answer.total == len(mql | high)


def test_given_each_operator_when_searching_then_matches_python_truth(hs, service):
    live = list(service.portal().store("contacts").live())
    sample = live[3].properties
    cases = {
        ("lead_score", "LT", "50"): lambda p: float(p.get("lead_score", 1e9)) < 50,
        ("lead_score", "BETWEEN", ("20", "40")): lambda p: 20 <= float(p.get("lead_score", -1)) <= 40,
        ("country", "IN", ("de", "at")): lambda p: p.get("country", "").lower() in ("de", "at"),
        ("country", "NOT_IN", ("de",)): lambda p: p.get("country", "").lower() != "de",
        ("country", "NEQ", "DE"): lambda p: p.get("country", "").lower() != "de",
        ("email", "EQ", sample["email"].upper()): lambda p: p.get("email") == sample["email"],
        ("email", "CONTAINS_TOKEN", "*@" + sample["email"].split("@")[1]): lambda p: p.get(
            "email", ""
        ).endswith("@" + sample["email"].split("@")[1]),
        ("lastname", "CONTAINS_TOKEN", sample["lastname"]): lambda p: (
            sample["lastname"].lower() in p.get("lastname", "").lower().split()
        ),
        ("hs_lead_status", "HAS_PROPERTY", None): lambda p: bool(p.get("hs_lead_status")),
        ("jobtitle", "NOT_HAS_PROPERTY", None): lambda p: not p.get("jobtitle"),
        ("createdate", "LTE", sample["createdate"]): lambda p: p["createdate"] <= sample["createdate"],
    }
    for (name, operator, value), truth in cases.items():
        spec: dict[str, object] = {"propertyName": name, "operator": operator}
        if operator == "BETWEEN":
            spec |= {"value": value[0], "highValue": value[1]}
        elif operator in ("IN", "NOT_IN"):
            spec["values"] = list(value)
        elif value is not None:
            spec["value"] = value
        answer = _search(hs, filter_groups=[{"filters": [spec]}], limit=200)
        expected = {r.id for r in live if truth(r.properties)}
        assert {r.id for r in answer.results} == expected, (name, operator)
        assert answer.total == len(expected)


def test_given_sort_and_paging_when_searching_then_pages_in_order_with_string_after(hs):
    order, after = [], None
    while True:
        answer = _search(
            hs,
            sorts=[{"propertyName": "lead_score", "direction": "DESCENDING"}],
            properties=["lead_score"],
            limit=7,
            after=after,
        )
        order += [float(r.properties["lead_score"] or -1) for r in answer.results]
        if answer.paging is None:
            break
        after = answer.paging.next.after
        assert after.isdigit()
    assert order == sorted(order, reverse=True) and len(order) == answer.total


def test_given_search_limits_when_exceeded_then_400(hs):
    too_many_groups = [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}]}] * 6
    for request in (
        {"filter_groups": too_many_groups},
        {"sorts": [{"propertyName": "email"}, {"propertyName": "firstname"}]},
        {"limit": 201},
        {"query": "x" * 3_001},
    ):
        with pytest.raises(ApiException) as caught:
            _search(hs, **request)
        assert caught.value.status == 400, request


def test_given_more_than_10000_matches_when_paging_past_cap_then_400(hs, service):
    portal = service.portal("manufacturer")
    store = portal.store("companies")
    with portal.lock:
        for number in range(10_050 - sum(1 for _ in store.live())):
            store.create({"name": f"Bulk {number}"}, portal.clock.now())
    search = hs.crm.companies.search_api
    last = search.do_search(CompaniesSearch(limit=200, after="9800"))
    assert last.total >= 10_050 and len(last.results) == 200
    assert last.paging.next.after == "10000"
    with pytest.raises(CompaniesApiException) as caught:
        search.do_search(CompaniesSearch(limit=200, after=last.paging.next.after))
    assert caught.value.status == 400 and "10000" in caught.value.body


def test_given_email_upsert_with_traces_and_one_bad_then_207_new_flags_and_error(hs):
    existing = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": _email()})
    )
    fresh = _email()
    answer = hs.crm.contacts.batch_api.upsert(
        BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                {
                    "id": existing.properties["email"],
                    "idProperty": "email",
                    "properties": {"firstname": "Old"},
                    "objectWriteTraceId": "t1",
                },
                {
                    "id": fresh,
                    "idProperty": "email",
                    "properties": {"firstname": "New"},
                    "objectWriteTraceId": "t2",
                },
                {
                    "id": _email(),
                    "idProperty": "email",
                    "properties": {"lifecyclestage": "nope"},
                    "objectWriteTraceId": "t3",
                },
            ]
        )
    )
    assert answer.num_errors == 1 and answer.errors[0].context["objectWriteTraceId"] == ["t3"]
    assert "INVALID_OPTION" in answer.errors[0].message
    flags = {r.properties["email"]: r.new for r in answer.results}
    assert flags == {existing.properties["email"]: False, fresh: True}


def test_given_company_update_then_hs_lastmodifieddate_and_updated_at_move_createdate_stays(hs, service):
    companies = hs.crm.companies.basic_api
    made = companies.create({"properties": {"name": "Zeitstempel KG", "numberofemployees": 12}})
    service.portal().clock.advance(2)
    changed = companies.update(made.id, {"properties": {"numberofemployees": 13}})
    assert changed.properties["numberofemployees"] == "13"
    assert changed.properties["hs_lastmodifieddate"] > made.properties["hs_lastmodifieddate"]
    assert changed.properties["createdate"] == made.properties["createdate"]
    assert changed.updated_at > made.updated_at and changed.created_at == made.created_at


def test_given_gt_filter_on_date_given_as_epoch_ms_when_searching_then_later_records_only(hs, service):
    live = list(service.portal().store("contacts").live())
    pivot = sorted(r.created_at for r in live)[len(live) // 2]
    millis = str(int(pivot.timestamp() * 1000))
    answer = _search(
        hs,
        filter_groups=[{"filters": [{"propertyName": "createdate", "operator": "GT", "value": millis}]}],
        limit=200,
    )
    assert {r.id for r in answer.results} == {r.id for r in live if r.created_at > pivot}


def test_given_malformed_bodies_when_posting_then_400_not_a_dropped_connection(service):
    session = requests.Session()
    session.trust_env = False
    session.verify = str(service.ca_file)
    session.headers["Authorization"] = f"Bearer {service.portal().access_token}"
    base = service.base_url()
    for path, payload in [
        ("/crm/v3/objects/contacts", {"properties": ["not", "a", "map"]}),
        ("/crm/v3/objects/contacts/batch/create", [1, 2]),
        (
            "/crm/v3/properties/contacts",
            {
                "name": "broken",
                "type": "enumeration",
                "fieldType": "select",
                "groupName": "contactinformation",
                "options": [{"label": "no value"}],
            },
        ),
    ]:
        answer = session.post(base + path, json=payload)
        assert answer.status_code == 400, path
        assert answer.json()["category"] == "VALIDATION_ERROR"
    assert session.post(base + "/crm/v3/objects/contacts", data=b"{not json").status_code == 400


def test_given_value_changes_when_reading_with_history_then_newest_first_with_sources(hs, service):
    contacts = hs.crm.contacts.basic_api
    made = contacts.create(SimplePublicObjectInputForCreate(properties={"hs_lead_status": "NEW"}))
    contacts.update(made.id, SimplePublicObjectInput(properties={"hs_lead_status": "OPEN"}))
    service.portal().edit_as_user("contacts", made.id, {"hs_lead_status": "CONNECTED"})
    read = contacts.get_by_id(made.id, properties_with_history=["hs_lead_status"])
    history = read.properties_with_history["hs_lead_status"]
    assert [(h.value, h.source_type) for h in history] == [
        ("CONNECTED", "CRM_UI"),
        ("OPEN", "API"),
        ("NEW", "API"),
    ]


def test_given_search_lag_when_record_just_written_then_searchable_only_later(hs, service):
    portal = service.portal()
    email = _email()
    request = {"filter_groups": [{"filters": [{"propertyName": "email", "operator": "EQ", "value": email}]}]}
    portal.search_lag_seconds = 5
    try:
        hs.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": email}))
        assert _search(hs, **request).total == 0
        portal.clock.advance(5)
        assert _search(hs, **request).total == 1
    finally:
        portal.search_lag_seconds = 0


def test_given_serve_json_entry_when_building_client_then_it_reaches_that_portal(service):
    entry = next(item for item in service.describe() if item["name"] == "manufacturer")
    assert {"base_url", "access_token", "portal_id", "app_id", "client_secret", "role"} <= set(entry)
    hs = hubspot_client_from_info(entry, service.ca_file)
    assert hs.crm.contacts.basic_api.get_page(limit=1).results
