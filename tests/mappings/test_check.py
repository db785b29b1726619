"""Checking mappings against object descriptions: missing fields, type mismatches, picklists."""

from __future__ import annotations

from typing import Any

from leadbridge.connectors.hubspot.describe import property_bodies
from leadbridge.connectors.hubspot.describe import remote_from_properties as remote_from_hubspot_properties
from leadbridge.connectors.salesforce.describe import remote_from_describe as remote_from_salesforce_describe
from leadbridge.connectors.salesforce.describe import setup_instructions
from leadbridge.mappings.check import check_mapping
from leadbridge.mappings.fix import field_specs, manual_steps
from leadbridge.mappings.loader import default_mapping_path, load_mapping
from leadbridge.mappings.schema import Mapping

SF_TYPES = {
    "Id": "id",
    "NumberOfEmployees": "int",
    "AnnualRevenue": "currency",
    "Latitude": "double",
    "Longitude": "double",
    "Lead_Score__c": "double",
    "HasOptedOutOfEmail": "boolean",
    "Consent_Share_With_Partners__c": "boolean",
    "Consent_Given_At__c": "datetime",
    "CreatedDate": "datetime",
    "SystemModstamp": "datetime",
    "LeadBridge_Offered_At__c": "datetime",
    "LeadBridge_Claimed_At__c": "datetime",
    "LeadBridge_Expected_Revenue__c": "currency",
    "LeadBridge_Close_Date__c": "date",
    "LeadBridge_Next_Follow_Up__c": "date",
    "Product_Interest__c": "multipicklist",
    "Lifecycle_Stage__c": "picklist",
    "LeadBridge_Status__c": "picklist",
    "LeadBridge_Outcome__c": "picklist",
}
PICKLISTS = {
    "Lifecycle_Stage__c": ["Lead", "MQL", "SQL"],
    "LeadBridge_Status__c": [
        *("Routing", "Offered", "Accepted", "Working", "Won", "Lost", "Returned"),
        *("Declined", "Expired", "Direct Sales", "Nurture"),
    ],
    "LeadBridge_Outcome__c": ["Won", "Lost"],
    "Product_Interest__c": ["heat_pumps", "solar_inverters"],
}


def sf_field(name: str, kind: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": kind or SF_TYPES.get(name, "string"),
        "label": name,
        "nillable": True,
        "createable": name not in ("Id", "CreatedDate", "SystemModstamp"),
        "updateable": True,
        "defaultedOnCreate": False,
        "picklistValues": [{"value": v, "active": True} for v in PICKLISTS.get(name, [])],
    } | extra


def org_for(mapping: Mapping, *, drop: tuple[str, ...] = (), **changes: dict[str, Any]) -> dict[str, Any]:
    names = [
        n
        for n in dict.fromkeys([*mapping.remote_fields("in"), *mapping.remote_fields("out")])
        if n not in drop
    ]
    fields = [sf_field(name) | changes.get(name, {}) for name in names]
    return {"name": mapping.object, "fields": fields}


SF = load_mapping(default_mapping_path("salesforce", "Lead", "manufacturer"))


def test_the_default_matches_an_org_built_for_it() -> None:
    remote = remote_from_salesforce_describe(org_for(SF))
    assert check_mapping(SF, remote) == []


def test_a_customised_org_reports_missing_fields_types_and_uncovered_picklist_values() -> None:
    describe = org_for(
        SF,
        drop=("LeadBridge_Next_Follow_Up__c",),
        NumberOfEmployees={"type": "string"},
        Lifecycle_Stage__c={
            "picklistValues": [{"value": v, "active": True} for v in ("Lead", "MQL", "SQL", "PQL")]
        },
        LeadBridge_Outcome__c={"picklistValues": [{"value": "Won", "active": True}]},
        LeadBridge_Partner__c={"createable": False, "updateable": False},
    )
    describe["fields"].append(sf_field("Fleet_Size__c", "double"))  # extra custom fields are fine
    findings = check_mapping(SF, remote_from_salesforce_describe(describe))
    by_kind = {(f.kind, f.field): f for f in findings}
    assert set(by_kind) == {
        ("missing", "LeadBridge_Next_Follow_Up__c"),
        ("type", "NumberOfEmployees"),
        ("picklist", "Lifecycle_Stage__c"),
        ("picklist", "LeadBridge_Outcome__c"),
        ("read_only", "LeadBridge_Partner__c"),
    }
    assert all(f.severity == "error" for f in findings)
    assert "'PQL'" in by_kind["picklist", "Lifecycle_Stage__c"].message
    assert "writes 'Lost'" in by_kind["picklist", "LeadBridge_Outcome__c"].message
    assert by_kind["missing", "LeadBridge_Next_Follow_Up__c"].line > 100
    steps = [*setup_instructions("Lead", field_specs(findings)), *manual_steps("Lead", findings)]
    assert any("API name LeadBridge_Next_Follow_Up__c, type Date" in step for step in steps)
    assert any("Lifecycle_Stage__c" in step for step in steps)


def test_uncovered_values_are_warnings_when_the_map_has_a_fallback() -> None:
    hs = load_mapping(default_mapping_path("hubspot", "contacts", "manufacturer"))
    props = [
        {"name": n, "type": "string", "fieldType": "text"}
        for n in hs.remote_fields("in") + hs.remote_fields("out")
    ]
    for prop in props:
        if prop["name"] == "lifecyclestage":
            prop |= {
                "type": "enumeration",
                "fieldType": "radio",
                "options": [{"value": "customer"}, {"value": "lead"}],
            }
    findings = check_mapping(hs, remote_from_hubspot_properties("contacts", props))
    [picklist] = [f for f in findings if f.kind == "picklist" and f.direction == "in"]
    assert picklist.severity == "warning" and "'customer'" in picklist.message
    # Writing lifecyclestage values the portal lacks is an error, whatever the inbound policy.
    assert any(f.kind == "picklist" and f.direction == "out" for f in findings)


def test_hubspot_fix_bodies_have_the_right_types() -> None:
    hs = load_mapping(default_mapping_path("hubspot", "contacts", "manufacturer"))
    standard = ["hs_object_id", "lastmodifieddate", "email", "firstname", "lastname", "createdate"]
    remote = remote_from_hubspot_properties("contacts", [{"name": n, "type": "string"} for n in standard])
    specs = field_specs(check_mapping(hs, remote))
    bodies = {b["name"]: b for b in property_bodies("contacts", specs)}
    assert (bodies["leadbridge_offered_at"]["type"], bodies["leadbridge_offered_at"]["fieldType"]) == (
        "datetime",
        "date",
    )
    assert bodies["leadbridge_close_date"]["type"] == "date"
    assert bodies["leadbridge_expected_revenue"]["type"] == "number"
    assert bodies["consent_marketing"]["type"] == "bool" and len(bodies["consent_marketing"]["options"]) == 2
    assert bodies["product_interest"]["fieldType"] == "checkbox"
    assert bodies["leadbridge_id"]["hasUniqueValue"] is True
    assert all(b["groupName"] == "contactinformation" for b in bodies.values())
    assert "firstname" not in bodies and "leadbridge_outcome" in bodies
