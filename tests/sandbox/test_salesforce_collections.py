"""Salesforce stand-in: sObject Collections create/update/upsert/delete/retrieve via ``sf.restful``."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from leadbridge.sandbox.clients import salesforce_client


def _lead(name: str, **extra: object) -> dict[str, object]:
    return {"attributes": {"type": "Lead"}, "LastName": name, "Company": "Collections GmbH", **extra}


def _create(sf, records, all_or_none=False):
    return sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": all_or_none, "records": records}
    )


def test_given_200_records_when_created_then_200_results_in_order(sf, sf_org):
    results = _create(sf, [_lead(f"C{i}") for i in range(200)])
    assert len(results) == 200 and all(r["success"] and r["errors"] == [] for r in results)
    names = {
        r["Id"]: r["LastName"]
        for r in sf.query_all("SELECT Id, LastName FROM Lead WHERE LastName LIKE 'C%'")["records"]
    }
    assert [names[r["id"]] for r in results] == [f"C{i}" for i in range(200)]
    assert sf_org.counters["collections.create"] == 1


def test_given_201_records_when_created_then_refused_whole(sf, sf_org):
    before = len(sf_org.records("Lead"))
    with pytest.raises(SalesforceMalformedRequest) as failure:
        _create(sf, [_lead(f"X{i}") for i in range(201)])
    assert failure.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert len(sf_org.records("Lead")) == before


def test_given_one_invalid_record_when_not_all_or_none_then_partial_success_with_status_codes(sf):
    results = _create(
        sf, [_lead("Good1"), {"attributes": {"type": "Lead"}, "Company": "No Name"}, _lead("Good2")]
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[1]["errors"][0]["fields"] == ["LastName"]


def test_given_one_invalid_record_when_all_or_none_then_everything_rolled_back(sf, sf_org):
    before = len(sf_org.records("Lead"))
    results = _create(sf, [_lead("Keep?"), _lead("Bad", Email="nope")], all_or_none=True)
    assert [r["success"] for r in results] == [False, False]
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_EMAIL_ADDRESS"
    assert len(sf_org.records("Lead")) == before


def test_given_existing_records_when_collection_update_then_per_record_results(sf, sf_org):
    ids = [r["id"] for r in _create(sf, [_lead("U1"), _lead("U2")])]
    payload = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Lead"}, "id": ids[0], "Rating": "Hot"},
            {"attributes": {"type": "Lead"}, "id": ids[1], "Rating": "Hot", "NumberOfEmployees": "lots"},
            {"attributes": {"type": "Lead"}, "Rating": "Hot"},
        ],
    }
    results = sf.restful("composite/sobjects", method="PATCH", json=payload)
    assert [r["success"] for r in results] == [True, False, False]
    assert results[2]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert sf.Lead.get(ids[0])["Rating"] == "Hot" and sf.Lead.get(ids[1])["Rating"] is None


def test_given_external_ids_when_collection_upsert_then_created_flags(sf):
    path = "composite/sobjects/Lead/LeadBridge_Id__c"
    first = sf.restful(
        path,
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [_lead("Up1", LeadBridge_Id__c="L-c1"), _lead("Up2", LeadBridge_Id__c="L-c2")],
        },
    )
    assert [r["created"] for r in first] == [True, True]
    second = sf.restful(
        path,
        method="PATCH",
        json={
            "allOrNone": False,
            "records": [
                _lead("Up1b", LeadBridge_Id__c="L-c1"),
                _lead("Up3", LeadBridge_Id__c="L-c3"),
                _lead("Dup", LeadBridge_Id__c="L-c4"),
                _lead("Dup", LeadBridge_Id__c="l-C4"),
                _lead("NoKey"),
            ],
        },
    )
    assert [(r["success"], r.get("created")) for r in second[:2]] == [(True, False), (True, True)]
    assert second[0]["id"] == first[0]["id"]
    assert [r["errors"][0]["statusCode"] for r in second[2:]] == [
        "DUPLICATE_EXTERNAL_ID",
        "DUPLICATE_EXTERNAL_ID",
        "MISSING_ARGUMENT",
    ]
    assert sf.Lead.get_by_custom_id("LeadBridge_Id__c", "L-c1")["LastName"] == "Up1b"


def test_given_ids_when_collection_delete_and_retrieve_then_results_per_id(sf):
    ids = [r["id"] for r in _create(sf, [_lead("D1"), _lead("D2")])]
    fetched = sf.restful("composite/sobjects/Lead", params={"ids": ",".join(ids), "fields": "LastName"})
    assert [r["LastName"] for r in fetched] == ["D1", "D2"] and set(fetched[0]) == {"attributes", "LastName"}
    results = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join([*ids, ids[0]]), "allOrNone": "false"}
    )
    assert [r["success"] for r in results] == [True, True, False]
    assert results[2]["errors"][0]["statusCode"] == "ENTITY_IS_DELETED" and results[2]["id"] == ids[0]
    assert sf.restful("composite/sobjects/Lead", params={"ids": ids[0], "fields": "Id"}) == [None]


def test_given_record_level_lock_faults_when_creating_then_some_items_fail_transiently(sf, sf_org):
    sf_org.faults.set("collections.record", error_rate=0.5, error="lock")
    results = _create(sf, [_lead(f"L{i}") for i in range(40)])
    failed = [r for r in results if not r["success"]]
    assert 5 < len(failed) < 35
    assert {r["errors"][0]["statusCode"] for r in failed} == {"UNABLE_TO_LOCK_ROW"}


def test_given_composite_with_references_when_posted_then_one_call_and_chained_results(sf, sf_org):
    base = "/services/data/v59.0"
    payload = {
        "allOrNone": False,
        "compositeRequest": [
            {
                "method": "POST",
                "url": f"{base}/sobjects/Account",
                "referenceId": "acct",
                "body": {"Name": "Composite Solar GmbH"},
            },
            {
                "method": "POST",
                "url": f"{base}/sobjects/Contact",
                "referenceId": "person",
                "body": {"LastName": "Kern", "AccountId": "@{acct.id}"},
            },
            {
                "method": "GET",
                "url": f"{base}/sobjects/Contact/@{{person.id}}?fields=AccountId",
                "referenceId": "read",
            },
            {
                "method": "POST",
                "url": f"{base}/sobjects/Lead",
                "referenceId": "bad",
                "body": {"Company": "x"},
            },
        ],
    }
    answers = sf.restful("composite", method="POST", json=payload)["compositeResponse"]
    assert [a["httpStatusCode"] for a in answers] == [201, 201, 200, 400]
    assert answers[2]["body"]["AccountId"] == answers[0]["body"]["id"]
    assert answers[3]["body"][0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf_org.counters.snapshot() == {"composite": 1}


def test_given_composite_all_or_none_when_one_fails_then_rolled_back_and_halted(sf, sf_org):
    before = len(sf_org.records("Account"))
    payload = {
        "allOrNone": True,
        "compositeRequest": [
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "a",
                "body": {"Name": "A"},
            },
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "b",
                "body": {},
            },
            {
                "method": "POST",
                "url": "/services/data/v59.0/sobjects/Account",
                "referenceId": "c",
                "body": {"Name": "C"},
            },
        ],
    }
    answers = sf.restful("composite", method="POST", json=payload)["compositeResponse"]
    assert [a["body"][0]["errorCode"] for a in answers] == [
        "PROCESSING_HALTED",
        "REQUIRED_FIELD_MISSING",
        "PROCESSING_HALTED",
    ]
    assert len(sf_org.records("Account")) == before
    too_many = {
        "compositeRequest": [
            {"method": "GET", "url": "/services/data/v59.0/limits", "referenceId": f"r{i}"} for i in range(26)
        ]
    }
    with pytest.raises(SalesforceMalformedRequest):
        sf.restful("composite", method="POST", json=too_many)


def test_given_concurrent_clients_when_upserting_then_every_record_lands_once(sf_org, sf_sandbox):
    def worker(number: int) -> list[bool]:
        client = salesforce_client(sf_org, sf_sandbox.ca_file)
        outcomes = []
        for batch in range(4):
            records = [
                _lead(f"T{number}-{batch}-{i}", LeadBridge_Id__c=f"L-t{number}-{i}") for i in range(50)
            ]
            results = client.restful(
                "composite/sobjects/Lead/LeadBridge_Id__c",
                method="PATCH",
                json={"allOrNone": False, "records": records},
            )
            outcomes += [r["success"] for r in results]
        return outcomes

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = [ok for result in pool.map(worker, range(6)) for ok in result]
    assert len(outcomes) == 6 * 4 * 50 and all(outcomes)
    rows = [r for r in sf_org.records("Lead") if (r["LeadBridge_Id__c"] or "").startswith("L-t")]
    assert len(rows) == 6 * 50  # later batches updated the same external ids instead of duplicating
    assert {r["LastName"].rsplit("-", 2)[1] for r in rows} == {"3"}
    assert sf_org.counters["collections.upsert"] == 24


def test_given_an_all_or_none_rollback_then_creates_report_no_id_and_updates_keep_theirs(sf, sf_org):
    results = _create(sf, [_lead("Never"), _lead("Bad", Email="nope")], all_or_none=True)
    assert "id" not in results[0] and "id" not in results[1]  # neither record exists
    [kept] = _create(sf, [_lead("Kept")])
    payload = {
        "allOrNone": True,
        "records": [
            {"attributes": {"type": "Lead"}, "id": kept["id"], "Rating": "Hot"},
            {"attributes": {"type": "Lead"}, "id": kept["id"], "Email": "nope"},
        ],
    }
    updated = sf.restful("composite/sobjects", method="PATCH", json=payload)
    assert updated[0]["id"] == kept["id"] and not updated[0]["success"]
    assert updated[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"


def test_given_a_collections_delete_without_ids_then_400_required_field_missing(sf, sf_org):
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.restful("composite/sobjects", method="DELETE", params={"ids": ""})
    assert failure.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert sf_org.counters["collections.delete"] == 1


def test_limits_carry_the_documented_keys_and_the_quota(sf, sf_org):
    limits = sf.limits()
    for key in (
        "DailyApiRequests",
        "DailyBulkApiRequests",
        "DailyBulkApiBatches",
        "DailyBulkV2QueryJobs",
        "DailyAsyncApexExecutions",
        "DataStorageMB",
        "FileStorageMB",
        "HourlyODataCallout",
        "SingleEmail",
        "MassEmail",
        "StreamingApiConcurrentClients",
    ):
        assert set(limits[key]) == {"Max", "Remaining"}, key
    assert limits["DailyApiRequests"]["Remaining"] <= limits["DailyApiRequests"]["Max"]
