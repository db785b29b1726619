"""Salesforce stand-in: query / queryAll / queryMore paging and the SOQL subset, through simple-salesforce."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from leadbridge.sandbox.clients import salesforce_client
from leadbridge.sandbox.salesforce.soql import parse


def _leads(org, count, **extra):
    return [
        org.create("Lead", {"LastName": f"Page{i}", "Company": "Paging GmbH", **extra}) for i in range(count)
    ]


def test_given_records_sharing_a_modstamp_when_paging_then_every_page_has_the_same_total(fresh_sf_org):
    box, org = fresh_sf_org
    sf = salesforce_client(org, box.ca_file)
    stamp = org.clock.freeze(datetime(2026, 11, 1, 8, 0, 0, 123000, tzinfo=UTC))
    ids = set(_leads(org, 450))
    soql = format_soql(
        "SELECT Id, SystemModstamp FROM Lead WHERE Company = 'Paging GmbH' AND SystemModstamp >= {} "
        "ORDER BY SystemModstamp, Id",
        stamp,
    )
    first = sf.query(soql, headers={"Sforce-Query-Options": "batchSize=200"})
    assert (first["totalSize"], len(first["records"]), first["done"]) == (450, 200, False)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    second = sf.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    third = sf.query_more(second["nextRecordsUrl"], identifier_is_url=True)
    assert [p["totalSize"] for p in (second, third)] == [450, 450]
    assert (len(second["records"]), len(third["records"]), third["done"]) == (200, 50, True)
    assert "nextRecordsUrl" not in third
    seen = [r["Id"] for p in (first, second, third) for r in p["records"]]
    assert set(seen) == ids and len(seen) == 450 and seen == sorted(seen)
    assert {r["SystemModstamp"] for r in first["records"]} == {"2026-11-01T08:00:00.123+0000"}
    # The keyset continuation a connector uses: a tie-break on Id among rows sharing the stamp.
    # (format_soql drops sub-second digits, so the millisecond literal is written out here.)
    keyset = format_soql(
        "SELECT Id FROM Lead WHERE Company = 'Paging GmbH' AND SystemModstamp = 2026-11-01T08:00:00.123Z "
        "AND Id > {} ORDER BY Id",
        seen[399],
    )
    assert [r["Id"] for r in sf.query_all(keyset)["records"]] == seen[400:]


def test_given_more_than_2000_rows_when_querying_without_options_then_pages_of_2000(fresh_sf_org):
    box, org = fresh_sf_org
    _leads(org, 2100)
    sf = salesforce_client(org, box.ca_file)
    page = sf.query("SELECT Id FROM Lead")
    assert (len(page["records"]), page["totalSize"]) == (2000, 2105)
    assert len(sf.query_all("SELECT Id FROM Lead")["records"]) == 2105
    assert sum(1 for _ in sf.query_all_iter("SELECT Id FROM Lead")) == 2105


def test_given_filters_when_querying_then_soql_semantics_hold(sf, sf_org):
    tag = "Filters KG"
    sf_org.create(
        "Lead",
        {
            "LastName": "Alpha",
            "Company": tag,
            "NumberOfEmployees": 5,
            "Email": "a@x.example",
            "Product_Interest__c": "heat_pumps;batteries",
        },
    )
    sf_org.create(
        "Lead",
        {
            "LastName": "beta",
            "Company": tag,
            "NumberOfEmployees": 50,
            "Rating": "Hot",
            "Product_Interest__c": "wallboxes",
        },
    )
    sf_org.create("Lead", {"LastName": "Gamma", "Company": tag, "NumberOfEmployees": None, "Rating": "Cold"})

    def names(where: str, order: str = "LastName") -> list[str]:
        result = sf.query_all(
            f"SELECT LastName FROM Lead WHERE Company = 'filters kg' AND ({where}) ORDER BY {order}"
        )
        return [r["LastName"] for r in result["records"]]

    assert names("NumberOfEmployees > 5") == ["beta"]
    assert names("NumberOfEmployees >= 5 AND NumberOfEmployees <= 50") == ["Alpha", "beta"]
    assert names("NumberOfEmployees < 50 OR NumberOfEmployees = null") == ["Alpha", "Gamma"]
    assert names("NumberOfEmployees != 5") == ["beta", "Gamma"]  # SOQL != keeps nulls
    assert names("Email = null") == ["beta", "Gamma"]
    assert names("Rating IN ('Hot', 'Cold')") == ["beta", "Gamma"]
    assert names("Rating NOT IN ('Hot')") == ["Alpha", "Gamma"]
    assert names("LastName LIKE 'B%' OR LastName LIKE '_amma'") == ["beta", "Gamma"]
    assert names("NOT (LastName = 'ALPHA')") == ["beta", "Gamma"]
    assert names("Product_Interest__c INCLUDES ('batteries', 'wallboxes;heat_pumps')") == ["Alpha"]
    assert names("Id != null", order="NumberOfEmployees DESC NULLS FIRST") == ["Gamma", "beta", "Alpha"]
    assert names("Id != null", order="NumberOfEmployees ASC NULLS LAST, LastName DESC") == [
        "Alpha",
        "beta",
        "Gamma",
    ]
    limited = sf.query(
        f"SELECT LastName FROM Lead WHERE Company = '{tag}' ORDER BY LastName LIMIT 1 OFFSET 1"
    )
    assert [r["LastName"] for r in limited["records"]] == ["beta"] and limited["totalSize"] == 1
    assert sf.query(f"SELECT COUNT() FROM Lead WHERE Company = '{tag}'") | {} == {
        "totalSize": 3,
        "done": True,
        "records": [],
    }


def test_given_datetime_literals_when_filtering_then_compared_as_instants(sf, sf_org):
    sf_org.clock.freeze(datetime(2026, 5, 1, 12, 0, tzinfo=UTC))
    lead_id = sf_org.create("Lead", {"LastName": "Stamped", "Company": "Zeit AG"})
    sf_org.clock.reset()
    base = "SELECT Id FROM Lead WHERE Company = 'Zeit AG' AND CreatedDate "
    assert sf.query(base + "= 2026-05-01T14:00:00+02:00")["totalSize"] == 1
    assert sf.query(base + "> 2026-05-01T12:00:00Z")["totalSize"] == 0
    assert sf.query(base + "<= 2026-05-01T12:00:00.000Z")["records"][0]["Id"] == lead_id


def test_given_relationship_field_when_selected_then_nested_object(sf, sf_org):
    result = sf.query("SELECT Id, Owner.Name, Owner.Email FROM Lead LIMIT 1")
    owner = result["records"][0]["Owner"]
    assert owner["attributes"]["type"] == "User" and owner["Name"] and "@" in owner["Email"]


def test_given_deleted_lead_when_query_all_then_visible_with_is_deleted(sf, sf_org):
    lead_id = sf_org.create("Lead", {"LastName": "Gone", "Company": "Deleted GmbH"})
    sf.Lead.delete(lead_id)
    soql = "SELECT Id, IsDeleted FROM Lead WHERE Company = 'Deleted GmbH'"
    assert sf.query(soql)["totalSize"] == 0
    rows = sf.query_all(soql, include_deleted=True)["records"]
    assert [(r["Id"], r["IsDeleted"]) for r in rows] == [(lead_id, True)]


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Lead GROUP BY Id", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE CreatedDate = TODAY", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE Name = :name", "MALFORMED_QUERY"),
        ("SELECT COUNT(Id) FROM Lead", "MALFORMED_QUERY"),
        ("SELECT Id FROM Lead WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FORM Lead", "MALFORMED_QUERY"),
        ("SELECT Foo__c FROM Lead", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE SystemModstamp > '2026-01-01T00:00:00Z'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE NumberOfEmployees = '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Lead WHERE Company = 5", "INVALID_FIELD"),
        ("SELECT Id FROM Lead ORDER BY Nope__c", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity", "INVALID_TYPE"),
    ],
)
def test_given_query_outside_the_subset_when_sent_then_400_with_code(sf, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query(soql)
    assert failure.value.status == 400
    assert failure.value.content[0]["errorCode"] == code


def test_given_unknown_locator_when_query_more_then_invalid_query_locator(sf):
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.query_more("01gNOPE-200")
    assert failure.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


def test_given_escaped_string_literal_when_parsing_then_unescaped_value():
    query = parse(r"SELECT Id FROM Lead WHERE LastName = 'O\'Brien' AND Title LIKE '50\%%'")
    assert query.where is not None
    first, second = query.where.items  # type: ignore[union-attr]
    assert first.value == "O'Brien" and second.value == r"50\%%"


def test_given_window_when_get_updated_and_deleted_then_ids_and_dates(sf, sf_org):
    start = datetime.now(UTC) - timedelta(minutes=1)
    created = sf.Lead.create({"LastName": "Replica", "Company": "Sync GmbH"})["id"]
    deleted = sf_org.create("Lead", {"LastName": "Doomed", "Company": "Sync GmbH"})
    sf.Lead.delete(deleted)
    end = datetime.now(UTC) + timedelta(minutes=1)
    updated = sf.Lead.updated(start, end)
    assert created in updated["ids"] and deleted not in updated["ids"]
    assert updated["latestDateCovered"].endswith("+0000")
    gone = sf.Lead.deleted(start, end)
    gone_ids = [row["id"] for row in gone["deletedRecords"]]
    assert deleted in gone_ids and created not in gone_ids
    # the purge horizon is no later than the window's (minute-rounded) start; dates carry whole minutes
    earliest, covered = gone["earliestDateAvailable"], gone["latestDateCovered"]
    assert earliest <= start.strftime("%Y-%m-%dT%H:%M:00.000+0000")
    assert all(d.endswith(":00.000+0000") for d in (earliest, covered, updated["latestDateCovered"]))
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.updated(start - timedelta(days=31), end)
    assert failure.value.content[0]["errorCode"] == "INVALID_REPLICATION_DATE"
