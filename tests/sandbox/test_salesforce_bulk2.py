"""Salesforce stand-in: Bulk API 2.0 ingest and query jobs through ``sf.bulk2`` (simple-salesforce)."""

from __future__ import annotations

import csv
import io

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_given_records_when_bulk_inserting_then_job_completes_with_per_row_results(sf, sf_org):
    records = [
        {"LastName": f"Bulk{i}", "Company": "Bulk GmbH", "NumberOfEmployees": str(i)} for i in range(30)
    ]
    records.append({"LastName": "", "Company": "No Name", "NumberOfEmployees": "1"})
    [result] = sf.bulk2.Lead.insert(records=records, wait=0)
    assert (
        result["numberRecordsProcessed"],
        result["numberRecordsFailed"],
        result["numberRecordsTotal"],
    ) == (31, 1, 31)
    ok = _rows(sf.bulk2.Lead.get_successful_records(result["job_id"]))
    failed = _rows(sf.bulk2.Lead.get_failed_records(result["job_id"]))
    assert len(ok) == 30 and all(r["sf__Created"] == "true" and r["sf__Id"].startswith("00Q") for r in ok)
    assert failed[0]["sf__Error"].startswith("REQUIRED_FIELD_MISSING:") and failed[0]["Company"] == "No Name"
    assert sf.query("SELECT COUNT() FROM Lead WHERE Company = 'Bulk GmbH'")["totalSize"] == 30
    assert sf_org.counters["bulk2.create"] == 1 and sf_org.counters["bulk2.upload"] == 1


def test_given_external_ids_when_bulk_upserting_and_deleting_then_created_flags_and_nulls(sf, sf_org):
    first = [
        {"LeadBridge_Id__c": f"L-b{i}", "LastName": f"U{i}", "Company": "Up AG", "Title": "CEO"}
        for i in range(3)
    ]
    sf.bulk2.Lead.upsert(records=first, external_id_field="LeadBridge_Id__c", wait=0)
    second = [
        {"LeadBridge_Id__c": "L-b0", "LastName": "U0b", "Company": "", "Title": "#N/A"},
        {"LeadBridge_Id__c": "L-b9", "LastName": "U9", "Company": "Up AG", "Title": ""},
    ]
    [result] = sf.bulk2.Lead.upsert(records=second, external_id_field="LeadBridge_Id__c", wait=0)
    flags = [r["sf__Created"] for r in _rows(sf.bulk2.Lead.get_successful_records(result["job_id"]))]
    assert flags == ["false", "true"]
    updated = sf.Lead.get_by_custom_id("LeadBridge_Id__c", "L-b0")
    assert (updated["LastName"], updated["Company"], updated["Title"]) == (
        "U0b",
        "Up AG",
        None,
    )  # '' kept, #N/A nulled
    [deleted] = sf.bulk2.Lead.delete(records=[{"Id": updated["Id"]}], wait=0)
    assert deleted["numberRecordsFailed"] == 0
    assert sf.query("SELECT COUNT() FROM Lead WHERE LeadBridge_Id__c = 'L-b0'")["totalSize"] == 0


def test_given_query_job_when_results_exceed_max_records_then_csv_pages_with_locators(sf, sf_org):
    for i in range(25):
        sf_org.create(
            "Lead",
            {"LastName": f"Q{i:02d}", "Company": 'Query, "Bulk" KG', "Rating": "Hot" if i % 2 else None},
        )
    soql = (
        "SELECT Id, LastName, Company, Rating, Owner.Name, CreatedDate FROM Lead "
        "WHERE Company LIKE 'Query%' ORDER BY LastName"
    )
    pages = list(sf.bulk2.Lead.query(soql, max_records=10, wait=0))
    rows = [row for page in pages for row in _rows(page)]
    assert [len(_rows(p)) for p in pages] == [10, 10, 5]
    assert [r["LastName"] for r in rows] == [f"Q{i:02d}" for i in range(25)]
    assert rows[0]["Company"] == 'Query, "Bulk" KG' and rows[0]["Rating"] == "" and rows[1]["Rating"] == "Hot"
    assert rows[0]["Owner.Name"] and rows[0]["CreatedDate"].endswith("Z")
    assert list(rows[0]) == ["Id", "LastName", "Company", "Rating", "Owner.Name", "CreatedDate"]


def test_given_bad_bulk_query_when_creating_job_then_soql_errors_surface(sf):
    with pytest.raises(SalesforceMalformedRequest) as failure:
        list(sf.bulk2.Lead.query("SELECT Nope__c FROM Lead", wait=0))
    assert failure.value.content[0]["errorCode"] == "INVALID_FIELD"
