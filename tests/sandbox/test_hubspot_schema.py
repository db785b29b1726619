"""Properties, property groups, owners and associations v4 of the HubSpot stand-in, via the real client."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.associations.v4 import ApiException as AssociationsApiException
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicAssociationMultiArchive,
    BatchInputPublicAssociationMultiPost,
    BatchInputPublicDefaultAssociationMultiPost,
    BatchInputPublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import PublicObjectSearchRequest, SimplePublicObjectInputForCreate
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.crm.properties import PropertyCreate, PropertyGroupCreate, PropertyUpdate

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.service import HubSpotService


@pytest.fixture(scope="module")
def service() -> Iterator[HubSpotService]:
    with Sandbox.plan(services=["hubspot"], leads=6, seed=5) as box:
        yield box.hubspot


@pytest.fixture(scope="module")
def hs(service: HubSpotService) -> HubSpot:
    return service.client()


def test_given_portal_when_listing_properties_then_standard_and_leadbridge_ones(hs):
    names = {p.name: p for p in hs.crm.properties.core_api.get_all("contacts").results}
    assert {"email", "lifecyclestage", "hs_lead_status", "leadbridge_id"} <= set(names)
    assert names["leadbridge_id"].has_unique_value is True and names["leadbridge_id"].hubspot_defined is False
    stages = [o.value for o in names["lifecyclestage"].options]
    assert stages[:3] == ["subscriber", "lead", "marketingqualifiedlead"]
    assert hs.crm.properties.core_api.get_by_name("deals", "dealstage").type == "enumeration"


def test_given_new_group_and_property_when_created_then_201_and_usable_on_records(hs):
    groups, core = hs.crm.properties.groups_api, hs.crm.properties.core_api
    group = groups.create("contacts", PropertyGroupCreate(name="routing", label="Routing", display_order=3))
    assert group is not None and group.archived is False and group.name == "routing"
    created = core.create(
        "contacts",
        PropertyCreate(
            name="routing_score",
            label="Routing score",
            type="number",
            field_type="number",
            group_name="routing",
        ),
    )
    assert created is not None and created.name == "routing_score" and created.group_name == "routing"
    record = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "score@example.org", "routing_score": 7.5})
    )
    assert record.properties["routing_score"] == "7.5"
    updated = core.update("contacts", "routing_score", PropertyUpdate(label="Score"))
    assert updated.label == "Score"
    assert [g.name for g in groups.get_all("contacts").results].count("routing") == 1


def test_given_taken_name_or_unknown_group_when_creating_property_then_409_or_400(hs):
    core = hs.crm.properties.core_api
    spec = {"label": "x", "type": "string", "field_type": "text"}
    with pytest.raises(PropertiesApiException) as taken:
        core.create("contacts", PropertyCreate(name="email", group_name="contactinformation", **spec))
    with pytest.raises(PropertiesApiException) as unknown:
        core.create("contacts", PropertyCreate(name="fresh_one", group_name="no_such_group", **spec))
    assert taken.value.status == 409 and json.loads(taken.value.body)["category"] == "CONFLICT"
    assert unknown.value.status == 400


def test_given_custom_property_when_archived_then_gone_and_standard_one_refused(hs):
    core = hs.crm.properties.core_api
    core.create(
        "deals",
        PropertyCreate(
            name="temp_flag",
            label="Temp",
            type="bool",
            field_type="booleancheckbox",
            group_name="dealinformation",
        ),
    )
    assert core.archive("deals", "temp_flag") is None
    with pytest.raises(PropertiesApiException) as missing:
        core.get_by_name("deals", "temp_flag")
    with pytest.raises(PropertiesApiException) as standard:
        core.archive("deals", "dealname")
    assert missing.value.status == 404 and standard.value.status == 400


def test_given_owners_when_listing_with_and_without_trailing_slash_then_same_people(hs, service):
    owners = hs.crm.owners.owners_api
    page = owners.get_page(limit=2)
    assert len(page.results) == 2 and page.paging.next.after == "2"
    rest = owners.get_page(limit=100, after=page.paging.next.after).results
    everyone = page.results + rest
    assert len({o.id for o in everyone}) == len(service.portal().owners)
    first = everyone[0]
    assert owners.get_page(email=first.email).results[0].id == first.id
    assert owners.get_by_id(str(first.user_id), id_property="userId").id == first.id
    # The docs spell the list path without the slash the client uses: both must answer.
    session_url = service.base_url() + "/crm/v3/owners"
    session = requests.Session()
    session.trust_env = False
    answer = session.get(
        session_url,
        verify=str(service.ca_file),
        headers={"Authorization": f"Bearer {service.portal().access_token}"},
    )
    assert answer.status_code == 200 and len(answer.json()["results"]) == len(everyone)


def _ids(hs: HubSpot) -> tuple[str, str, str]:
    contact = hs.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={}))
    company = hs.crm.companies.basic_api.create({"properties": {"name": "Verbund AG"}})
    deal = hs.crm.deals.basic_api.create({"properties": {"dealname": "Wärmepumpe", "pipeline": "default"}})
    return contact.id, company.id, deal.id


def test_given_default_and_labeled_puts_when_reading_then_both_sides_see_types(hs):
    basic = hs.crm.associations.v4.basic_api
    contact, company, deal = _ids(hs)
    default = basic.create_default("contacts", contact, "companies", company)
    assert {(r._from.id, r.association_spec.association_type_id) for r in default.results} == {
        (contact, 279),
        (company, 280),
    }
    labeled = basic.create("deals", deal, "companies", company, [AssociationSpec("HUBSPOT_DEFINED", 5)])
    assert labeled.labels == ["Primary"] and labeled.from_object_type_id == "0-3"
    from_company = basic.get_page("companies", company, "deals").results
    assert from_company[0].to_object_id == deal
    assert {(t.type_id, t.label) for t in from_company[0].association_types} == {(6, "Primary")}
    assert basic.get_page("contacts", contact, "companies").results[0].to_object_id == company
    assert basic.archive("companies", company, "contacts", contact) is None
    assert basic.get_page("contacts", contact, "companies").results == []


def test_given_invalid_hubspot_type_when_associating_then_400(hs):
    contact, company, _deal = _ids(hs)
    with pytest.raises(AssociationsApiException) as caught:
        hs.crm.associations.v4.basic_api.create(
            "contacts", contact, "companies", company, [AssociationSpec("HUBSPOT_DEFINED", 999)]
        )
    assert caught.value.status == 400


def test_given_batch_association_calls_then_create_read_default_archive_work(hs):
    batch = hs.crm.associations.v4.batch_api
    contact_a, company, deal = _ids(hs)
    contact_b, _company_b, _deal_b = _ids(hs)
    created = batch.create(
        "deals",
        "contacts",
        BatchInputPublicAssociationMultiPost(
            inputs=[
                {
                    "from": {"id": deal},
                    "to": {"id": contact_a},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
                {
                    "from": {"id": deal},
                    "to": {"id": "123456789"},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
                },
            ]
        ),
    )
    assert len(created.results) == 1 and created.num_errors == 1  # 207: the unknown contact
    defaults = batch.create_default(
        "contacts",
        "companies",
        BatchInputPublicDefaultAssociationMultiPost(
            inputs=[
                {"from": {"id": contact_a}, "to": {"id": company}},
                {"from": {"id": contact_b}, "to": {"id": company}},
            ]
        ),
    )
    assert len(defaults.results) == 4
    read = batch.get_page(
        "companies",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": company}, {"id": "42"}]),
    )
    assert {t.to_object_id for t in read.results[0].to} == {contact_a, contact_b}
    assert read.errors[0].context == {"fromObjectId": ["42"]}
    archived = batch.archive(
        "companies",
        "contacts",
        BatchInputPublicAssociationMultiArchive(
            inputs=[{"from": {"id": company}, "to": [{"id": contact_a}]}]
        ),
    )
    assert archived is None
    again = batch.get_page(
        "companies", "contacts", BatchInputPublicFetchAssociationsBatchRequest(inputs=[{"id": company}])
    )
    assert [t.to_object_id for t in again.results[0].to] == [contact_b]


def test_given_association_on_create_when_searching_by_association_then_found(hs, service):
    service.portal().limits.configure(search_per_second=1_000)
    company = hs.crm.companies.basic_api.create({"properties": {"name": "Suchbar GmbH"}})
    contact = hs.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "linked@example.org"},
            associations=[
                {
                    "to": {"id": company.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}],
                }
            ],
        )
    )
    found = hs.crm.contacts.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {"filters": [{"propertyName": "associations.company", "operator": "EQ", "value": company.id}]}
            ]
        )
    )
    assert [r.id for r in found.results] == [contact.id]
