"""Salesforce stand-in: sObject create/get/update/delete/upsert, describe, customised orgs, limits."""

from __future__ import annotations

import pytest
from simple_salesforce.exceptions import (
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)

from leadbridge.sandbox.clients import salesforce_client
from leadbridge.sandbox.salesforce.catalogue import pick, typed


def test_given_a_lead_when_created_read_updated_deleted_then_rest_statuses(sf, sf_org):
    created = sf.Lead.create(
        {
            "FirstName": "Jana",
            "LastName": "Novák",
            "Company": "Praha Solar s.r.o.",
            "Email": "jana@praha.example",
            "NumberOfEmployees": 12,
        }
    )
    assert created["success"] is True and created["errors"] == [] and created["id"].startswith("00Q")
    record = sf.Lead.get(created["id"])
    assert record["attributes"] == {
        "type": "Lead",
        "url": f"/services/data/v59.0/sobjects/Lead/{created['id']}",
    }
    assert (record["Name"], record["Status"], record["Email"]) == (
        "Jana Novák",
        "Open - Not Contacted",
        "jana@praha.example",
    )
    assert record["Latitude"] is None and record["OwnerId"] == sf_org.integration_user_id
    assert len(record["SystemModstamp"]) == len("2024-05-01T12:34:56.000+0000")
    assert sf.Lead.update(created["id"], {"Status": "Working - Contacted"}) == 204
    again = sf.Lead.get(created["id"])
    assert again["Status"] == "Working - Contacted" and again["SystemModstamp"] >= record["SystemModstamp"]
    assert sf.Lead.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound) as failure:
        sf.Lead.get(created["id"])
    assert failure.value.content[0]["errorCode"] == "ENTITY_IS_DELETED"
    with pytest.raises(SalesforceResourceNotFound) as missing:
        sf.Lead.get("00Q000000000000AAA")
    assert missing.value.content[0]["errorCode"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"Company": "No Name GmbH"}, "REQUIRED_FIELD_MISSING"),
        ({"LastName": "X", "Company": "Y", "Foo__c": 1}, "INVALID_FIELD"),
        (
            {"LastName": "X", "Company": "Y", "SystemModstamp": "2024-01-01T00:00:00Z"},
            "INVALID_FIELD_FOR_INSERT_UPDATE",
        ),
        ({"LastName": "X", "Company": "Y", "Email": "not-an-email"}, "INVALID_EMAIL_ADDRESS"),
        ({"LastName": "X" * 81, "Company": "Y"}, "STRING_TOO_LONG"),
        ({"LastName": "X", "Company": "Y", "NumberOfEmployees": "many"}, "JSON_PARSER_ERROR"),
        ({"LastName": "X", "Company": "Y", "OwnerId": "005000000000000AAA"}, "INVALID_CROSS_REFERENCE_KEY"),
        ({"LastName": "X", "Company": "Y", "LeadBridge_Close_Date__c": "soon"}, "JSON_PARSER_ERROR"),
    ],
)
def test_given_invalid_record_when_created_then_400_with_code(sf, data, code):
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.create(data)
    assert failure.value.content[0]["errorCode"] == code


def test_given_external_id_when_upserting_then_201_then_200_or_204_then_300(sf, sf_org, sf_sandbox):
    path = (
        "LeadBridge_Id__c/L-100%2F7"  # ids with '/' must be encoded by the caller (simple-salesforce won't)
    )
    assert sf.Lead.upsert(path, {"LastName": "Upsert", "Company": "Ext GmbH"}) == 201
    assert sf.Lead.upsert(path, {"LeadBridge_Status__c": "Offered"}) == 200  # API >= 46
    found = sf.Lead.get_by_custom_id("LeadBridge_Id__c", "L-100/7")
    assert (found["LeadBridge_Id__c"], found["LeadBridge_Status__c"]) == ("L-100/7", "Offered")
    old_api = salesforce_client(sf_org, sf_sandbox.ca_file, version="45.0")
    assert old_api.Lead.upsert(path, {"LeadBridge_Reason__c": "none"}) == 204
    created = sf.Lead.upsert(
        "LeadBridge_Id__c/L-101", {"LastName": "U2", "Company": "Ext GmbH"}, raw_response=True
    )
    assert created.json()["created"] is True and created.status_code == 201
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.upsert("Company/Ext%20GmbH", {"LastName": "Z"})  # not an external id field
    with pytest.raises(SalesforceResourceNotFound):
        sf.restful(
            "sobjects/Lead/LeadBridge_Id__c/L-999",
            method="PATCH",
            params={"updateOnly": "true"},
            json={"LastName": "Never"},
        )


def test_given_two_records_share_a_non_unique_external_id_when_upserting_then_300(fresh_sf_org):
    box, org = fresh_sf_org
    org.add_field("Lead", typed("Legacy_Key__c", "string", length=20, external_id=True))
    for name in ("A", "B"):
        org.create("Lead", {"LastName": name, "Company": "Twins", "Legacy_Key__c": "K1"})
    sf = salesforce_client(org, box.ca_file)
    with pytest.raises(SalesforceMoreThanOneRecord) as failure:
        sf.Lead.upsert("Legacy_Key__c/K1", {"Title": "x"})
    assert failure.value.status == 300 and len(failure.value.content) == 2


def test_given_unique_external_id_when_created_twice_then_duplicate_value(sf):
    sf.Lead.create({"LastName": "One", "Company": "Dup", "LeadBridge_Id__c": "L-dup"})
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.create({"LastName": "Two", "Company": "Dup", "LeadBridge_Id__c": "l-DUP"})
    assert failure.value.content[0]["errorCode"] == "DUPLICATE_VALUE"


def test_given_describe_then_standard_and_custom_fields_with_types_picklists_and_external_ids(sf):
    describe = sf.Lead.describe()
    fields = {f["name"]: f for f in describe["fields"]}
    assert describe["keyPrefix"] == "00Q"
    assert fields["LeadBridge_Id__c"]["externalId"] is True and fields["LeadBridge_Id__c"]["custom"] is True
    assert fields["LastName"]["nillable"] is False and fields["Company"]["type"] == "string"
    assert fields["SystemModstamp"]["type"] == "datetime" and fields["SystemModstamp"]["createable"] is False
    status_values = [(v["value"], v["defaultValue"]) for v in fields["Status"]["picklistValues"]]
    assert status_values[0] == ("Open - Not Contacted", True) and len(status_values) == 4
    assert fields["Product_Interest__c"]["type"] == "multipicklist"
    owner = fields["OwnerId"]
    assert owner["referenceTo"] == ["Group", "User"] and owner["relationshipName"] == "Owner"
    assert owner["polymorphicForeignKey"] is True and owner["label"] == "Owner ID"
    assert {o["name"] for o in sf.describe()["sobjects"]} >= {"Lead", "Contact", "Account", "Task", "User"}
    assert sf.Contact.metadata()["objectDescribe"]["keyPrefix"] == "003"
    assert sf.Contact.describe()["fields"][0]["name"] == "Id"


# The keys of a field describe in API v60 (REST API developer guide, DescribeFieldResult).
FIELD_KEYS = set(
    [
        "aggregatable",
        "aiPredictionField",
        "autoNumber",
        "byteLength",
        "calculated",
        "calculatedFormula",
        "cascadeDelete",
        "caseSensitive",
        "compoundFieldName",
        "controllerName",
        "createable",
        "custom",
        "defaultValue",
        "defaultValueFormula",
        "defaultedOnCreate",
        "dependentPicklist",
        "deprecatedAndHidden",
        "digits",
        "displayLocationInDecimal",
        "encrypted",
        "externalId",
        "extraTypeInfo",
        "filterable",
        "filteredLookupInfo",
        "formulaTreatNullNumberAsZero",
        "groupable",
        "highScaleNumber",
        "htmlFormatted",
        "idLookup",
        "inlineHelpText",
        "label",
        "length",
        "mask",
        "maskType",
        "name",
        "nameField",
        "namePointing",
        "nillable",
        "permissionable",
        "picklistValues",
        "polymorphicForeignKey",
        "precision",
        "queryByDistance",
        "referenceTargetField",
        "referenceTo",
        "relationshipName",
        "relationshipOrder",
        "restrictedDelete",
        "restrictedPicklist",
        "scale",
        "searchPrefilterable",
        "soapType",
        "sortable",
        "type",
        "unique",
        "updateable",
        "writeRequiresMasterRead",
    ]
)


def test_field_describes_carry_salesforces_keys_labels_compound_fields_and_picklist_lengths(sf):
    fields = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    assert all(set(f) == FIELD_KEYS for f in fields.values()), set(fields["Email"]) ^ FIELD_KEYS
    assert len(FIELD_KEYS) == 57
    assert (
        fields["LeadSource"]["label"] == "Lead Source" and fields["PostalCode"]["label"] == "Zip/Postal Code"
    )
    assert fields["Campaign_Name__c"]["label"] == "Campaign"
    assert fields["Industry"]["length"] == 40 and fields["Lifecycle_Stage__c"]["length"] == 255
    assert fields["Company"]["byteLength"] == 765 and fields["Company"]["groupable"] is True
    assert fields["Address"]["type"] == "address" and fields["Address"]["createable"] is False
    assert (
        fields["City"]["compoundFieldName"] == "Address"
        and fields["FirstName"]["compoundFieldName"] == "Name"
    )
    assert (
        fields["Description"]["extraTypeInfo"] == "plaintextarea"
        and fields["Description"]["sortable"] is False
    )
    assert fields["NumberOfEmployees"]["digits"] == 8 and fields["NumberOfEmployees"]["precision"] == 0
    record_id = sf.Lead.create({"LastName": "Adr", "Company": "Adr AG", "City": "Köln", "Country": "DE"})[
        "id"
    ]
    address = sf.Lead.get(record_id)["Address"]
    assert address["city"] == "Köln" and address["country"] == "DE" and address["street"] is None
    assert sf.Lead.get(sf.Lead.create({"LastName": "N", "Company": "N"})["id"])["Address"] is None


def test_given_customised_org_when_field_and_picklist_added_then_describe_and_writes_see_them(fresh_sf_org):
    box, org = fresh_sf_org
    org.add_field("Lead", pick("Heat_Source__c", "Gas|Oil", restricted=True))
    org.add_picklist_values("Lead", "Heat_Source__c", "District Heating")
    sf = salesforce_client(org, box.ca_file)
    field = next(f for f in sf.Lead.describe()["fields"] if f["name"] == "Heat_Source__c")
    assert [v["value"] for v in field["picklistValues"]] == ["Gas", "Oil", "District Heating"]
    assert field["restrictedPicklist"] is True
    sf.Lead.create({"LastName": "Warm", "Company": "Fernwärme", "Heat_Source__c": "District Heating"})
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.create({"LastName": "Cold", "Company": "Kalt", "Heat_Source__c": "Coal"})
    assert failure.value.content[0]["errorCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    with pytest.raises(ValueError):
        org.add_field("Lead", typed("NoSuffix", "string"))


def test_given_other_objects_when_used_then_references_resolve(sf, sf_org):
    account = sf.Account.create({"Name": "Installateur Huber GmbH", "Type": "Channel Partner / Reseller"})[
        "id"
    ]
    contact = sf.Contact.create({"LastName": "Huber", "AccountId": account})["id"]
    task = sf.Task.create({"Subject": "Angebot nachfassen", "WhoId": contact, "Status": "Completed"})["id"]
    assert sf.Task.get(task)["IsClosed"] is True
    row = sf.query(f"SELECT Account.Name FROM Contact WHERE Id = '{contact}'")["records"][0]
    assert row["Account"]["Name"] == "Installateur Huber GmbH"
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] >= 5


def test_given_calls_when_reading_limits_then_usage_header_and_limits_agree(sf, sf_org):
    sf_org.faults.quota.set(15000, used=100)
    sf.query("SELECT Id FROM Lead LIMIT 1")
    assert sf.api_usage["api-usage"].used == 101 and sf.api_usage["api-usage"].total == 15000
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 15000, "Remaining": 15000 - 102}


def test_given_duplicate_rule_when_saving_a_matching_lead_then_duplicates_detected(fresh_sf_org):
    box, org = fresh_sf_org
    org.enable_duplicate_rule("Lead", "Email")
    sf = salesforce_client(org, box.ca_file)
    first = sf.Lead.create({"LastName": "Erste", "Company": "Dup AG", "Email": "info@dup.example"})["id"]
    with pytest.raises(SalesforceMalformedRequest) as failure:
        sf.Lead.create({"LastName": "Zweite", "Company": "Dup AG", "Email": "INFO@dup.example"})
    error = failure.value.content[0]
    assert error["errorCode"] == "DUPLICATES_DETECTED"
    assert error["duplicateResut"]["matchResults"][0]["matchRecords"][0]["record"]["Id"] == first
    other = sf.Lead.create({"LastName": "Dritte", "Company": "Dup AG", "Email": "other@dup.example"})["id"]
    with pytest.raises(SalesforceMalformedRequest):
        sf.Lead.update(other, {"Email": "info@dup.example"})
    assert sf.Lead.update(other, {"Title": "unrelated edit"}) == 204


def test_given_an_unknown_sobject_in_the_url_then_404_not_found_as_salesforce_answers(sf):
    with pytest.raises(SalesforceResourceNotFound) as failure:
        sf.restful("sobjects/Nope__c/describe")
    assert failure.value.content == [
        {"message": "The requested resource does not exist", "errorCode": "NOT_FOUND", "fields": []}
    ]
    with pytest.raises(SalesforceMalformedRequest) as query:  # a query's FROM stays INVALID_TYPE
        sf.query("SELECT Id FROM Nope__c")
    assert query.value.content[0]["errorCode"] == "INVALID_TYPE"
