"""Applying mappings: records become leads, bad records become failures, leads go back out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import Lead, Stage
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.mappings.apply import Plan, RecordError
from leadbridge.mappings.canonical import Owner
from leadbridge.mappings.loader import default_mapping_path, load_mapping, parse_mapping


def plan_for(system: str, obj: str, role: str) -> Plan:
    return Plan(load_mapping(default_mapping_path(system, obj, role)))


def sf_record(**overrides: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "Id": "00Q000000000001AAA",
        "FirstName": " Anna ",
        "LastName": "Muster",
        "Email": "Anna.Muster@Example.org",
        "Phone": "089 1234567",
        "Company": "Muster GmbH",
        "NumberOfEmployees": 42,
        "AnnualRevenue": 2500000,
        "PostalCode": "80331",
        "City": "München",
        "Country": "Deutschland",
        "Lifecycle_Stage__c": "SQL",
        "HasOptedOutOfEmail": True,
        "Consent_Share_With_Partners__c": True,
        "Product_Interest__c": "heat_pumps;batteries",
        "Preferred_Language__c": "DE",
        "CreatedDate": "2024-05-01T12:34:56.000+0000",
        "SystemModstamp": "2024-05-02T08:00:00.000+0000",
    }
    return record | overrides


def test_a_salesforce_lead_maps_to_a_canonical_lead() -> None:
    mapped = plan_for("salesforce", "Lead", "manufacturer").map_record(sf_record(), "home")
    lead = mapped.lead
    assert (lead.first_name, lead.last_name, lead.email) == ("Anna", "Muster", "anna.muster@example.org")
    assert lead.phone == "+49891234567"  # national number read with the lead's country
    assert lead.address.country == "DE" and lead.address.city == "München"
    assert lead.stage is Stage.SQL and lead.language == "de"
    assert lead.consent.marketing is False and lead.consent.share_with_partners is True
    assert lead.product_interests == ["heat_pumps", "batteries"]
    assert lead.annual_revenue == Decimal("2500000.00") and lead.employees == 42
    assert lead.created_at == datetime(2024, 5, 1, 12, 34, 56, tzinfo=UTC)
    assert (lead.source_connection, lead.external_id) == ("home", "00Q000000000001AAA")
    assert mapped.status is None


def test_every_problem_of_a_record_is_named_by_remote_field() -> None:
    plan = plan_for("salesforce", "Lead", "manufacturer")
    bad = sf_record(LastName="  ", CreatedDate="gestern", Lifecycle_Stage__c="Hot", Email="not-an-email")
    with pytest.raises(RecordError) as caught:
        plan.map_record(bad, "home")
    fields = [name for name, _ in caught.value.problems]
    assert fields == ["LastName", "Lifecycle_Stage__c", "CreatedDate"]
    assert "LastName: required field is empty" in str(caught.value)
    assert "unmapped value 'Hot'" in str(caught.value)
    # The model's own checks come after the mapping's and name the remote field too.
    with pytest.raises(RecordError, match=r"^Email: value is not a valid email address"):
        plan.map_record(sf_record(Email="not-an-email"), "home")


def test_map_batch_never_stops_on_a_bad_record() -> None:
    plan = plan_for("salesforce", "Lead", "manufacturer")
    records = [sf_record(Id="A"), sf_record(Id="B", CreatedDate="31.02.2024"), sf_record(Id="C")]
    mapped, failures = plan.map_batch(records, "home")
    assert [m.lead.external_id for m in mapped] == ["A", "C"]
    assert [(f.external_id, f.record["Id"]) for f in failures] == [("B", "B")]
    assert "CreatedDate: '31.02.2024' is not a date-time" in failures[0].reason


def test_write_back_only_writes_fields_leadbridge_and_partner_own() -> None:
    plan = plan_for("salesforce", "Lead", "manufacturer")
    lead = plan.map_record(sf_record(), "home").lead
    status = LeadStatusRecord(
        lead_id=lead.id,
        state=LeadState.WON,
        partner_name="Solar Süd GmbH",
        offered_at=datetime(2024, 5, 3, 9, 0, tzinfo=UTC),
        outcome="won",
        expected_revenue=Decimal("12000.50"),
        close_date=date(2024, 6, 30),
    )
    remote = plan.to_remote(lead, status, owners={Owner.LEADBRIDGE, Owner.PARTNER})
    assert remote == {
        "LeadBridge_Id__c": lead.id,
        "LeadBridge_Partner__c": "Solar Süd GmbH",
        "LeadBridge_Status__c": "Won",
        "LeadBridge_Offered_At__c": "2024-05-03T09:00:00.000+0000",
        "LeadBridge_Claimed_At__c": None,
        "LeadBridge_Outcome__c": "Won",
        "LeadBridge_Reason__c": None,
        "LeadBridge_Expected_Revenue__c": 12000.5,
        "LeadBridge_Close_Date__c": "2024-06-30",
        "LeadBridge_Next_Follow_Up__c": None,
    }


def test_blind_push_to_a_partner_carries_no_identity() -> None:
    lead = plan_for("salesforce", "Lead", "manufacturer").map_record(sf_record(), "home").lead
    partner = plan_for("salesforce", "Lead", "partner")
    blind = partner.to_remote(lead, LeadStatusRecord(lead_id=lead.id), blind=True)
    assert blind["LeadBridge_Id__c"] == lead.id and blind["City"] == "München"
    for identity in ("FirstName", "LastName", "Email", "Phone", "Company", "Street", "Website", "Title"):
        assert identity not in blind
    full = partner.to_remote(lead, LeadStatusRecord(lead_id=lead.id))
    assert full["Email"] == "anna.muster@example.org" and full["LeadSource"] == "Partner Referral"


def test_partner_status_is_read_back_into_the_status_record() -> None:
    partner = plan_for("salesforce", "Lead", "partner")
    record = {
        "Id": "00QP",
        "LeadBridge_Id__c": "L-1",
        "LastName": "Muster",
        "Status": "Closed - Converted",
        "LeadBridge_Expected_Revenue__c": 9000,
        "LeadBridge_Close_Date__c": "2024-07-01",
    }
    status = partner.map_record(record, "partner-x").status
    assert status is not None
    assert (status.lead_id, status.partner_status, status.outcome) == ("L-1", "won", "won")
    assert status.expected_revenue == Decimal("9000.00") and status.close_date == date(2024, 7, 1)
    working = partner.map_record(record | {"Status": "Working - Contacted"}, "partner-x").status
    assert working is not None and working.outcome is None and working.partner_status == "contacted"


def test_hubspot_deal_name_is_built_from_a_template() -> None:
    plan = plan_for("hubspot", "deals", "manufacturer")
    lead = Lead(company="Muster GmbH", last_name="Muster")
    remote = plan.to_remote(
        lead, LeadStatusRecord(lead_id=lead.id, partner_name="Solar Süd", state="accepted")
    )
    assert remote["dealname"] == "Muster GmbH — Solar Süd"
    assert remote["dealstage"] == "qualifiedtobuy" and remote["leadbridge_id"] == lead.id


def test_custom_fields_map_both_ways() -> None:
    mapping = parse_mapping(
        "system: hubspot\nobject: contacts\nrole: manufacturer\nkey: hs_object_id\nfields:\n"
        "  - {canonical: custom.fleet_size, in: fleet_size, out: fleet_size, transform: {number: integer}}\n",
        "inline.yaml",
    )
    plan = Plan(mapping)
    lead = plan.map_record({"hs_object_id": "7", "fleet_size": "12"}, "hs").lead
    assert lead.custom == {"fleet_size": 12}
    assert plan.to_remote(lead) == {"fleet_size": 12}


def test_failures_anywhere_in_a_batch_keep_every_other_record() -> None:
    plan = plan_for("salesforce", "Lead", "manufacturer")
    bad_at = {0, 3, 4, 9}
    records = [sf_record(Id=str(n), CreatedDate="nie" if n in bad_at else "2024-05-01") for n in range(10)]
    records[6]["Lifecycle_Stage__c"] = "Hot"
    results = plan.to_canonical_batch(records)
    failed = {n for n, result in enumerate(results) if isinstance(result, RecordError)}
    assert failed == bad_at | {6}
    assert all(
        results[n]["created_at"] == datetime(2024, 5, 1, tzinfo=UTC) for n in range(10) if n not in failed
    )  # type: ignore[index]
    assert "Lifecycle_Stage__c: unmapped value 'Hot'" in str(results[6])
