"""Salesforce Outbound Messages: a manufacturer org pushes a lead, leadbridge acknowledges it the way
Salesforce expects and takes the lead in at once (an immediate poll of the real sandbox org)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from leadbridge.connectors.salesforce.outbound import OUTBOUND_NS, SOAP_NS, parse_outbound
from leadbridge.core.settings import Settings
from leadbridge.core.store.tables import LeadRow
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.web.app import create_app
from tests.builders import TEST_SECRET_KEY
from tests.connectors.sandbox_salesforce import a_sf_lead, org_config


@dataclass
class Sent:
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self.calls.append((step, args))


@dataclass
class Org:
    rt: Runtime
    home: SalesforceOrg
    sent: Sent

    def client(self, host: str = "127.0.0.1") -> TestClient:
        return TestClient(create_app(self.rt), client=(host, 40000))


def soap_message(org_id: str, records: list[dict[str, Any]], sobject: str = "Lead") -> bytes:
    """An Outbound Message as Salesforce sends it (API 60.0 shape: enterprise namespace, nil fields,
    a relationship element the admin did not ask for stays out of the columns)."""
    notifications = []
    for n, record in enumerate(records, 1):
        fields = "".join(
            f"<sf:{name}>{value}</sf:{name}>" if value is not None else f'<sf:{name} xsi:nil="true"/>'
            for name, value in record.items()
        )
        notifications.append(
            f"<Notification><Id>04l5g00000ABCD{n}AAA</Id>"
            f'<sObject xsi:type="sf:{sobject}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
            f"{fields}<sf:Owner><sf:Name>Integration</sf:Name></sf:Owner></sObject></Notification>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        f'<notifications xmlns="{OUTBOUND_NS}">'
        f"<OrganizationId>{org_id}</OrganizationId><ActionId>04k5g000000ABCDAAA</ActionId>"
        '<SessionId xsi:nil="true"/>'
        f"<EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/60.0/{org_id[:15]}</EnterpriseUrl>"
        f"<PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/60.0/{org_id[:15]}</PartnerUrl>"
        f"{''.join(notifications)}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


HEADERS = {"content-type": "text/xml; charset=utf-8", "soapaction": '""'}


@pytest.fixture
def org(sqlite_url: str) -> Iterator[Org]:
    with Sandbox.plan(partners=0, leads=0, seed=5, services=["salesforce"]) as box:
        home = box.salesforce.org("manufacturer")
        connections = {
            "home": org_config(
                home,
                box.ca_file,
                name="home",
                outbound_org_id=home.org_id[:15],  # an admin pastes the 15-character id
                outbound_allow=["127.0.0.0/8", "13.108.0.0/14"],
            ),
            "other": org_config(home, box.ca_file, name="other"),  # no outbound_org_id: no receiver
        }
        settings = Settings(
            database_url=sqlite_url, secret_key=SecretStr(TEST_SECRET_KEY), connections=connections
        )
        sent = Sent()
        yield Org(build_runtime(settings, dispatcher=sent), home, sent)


def _record(home: SalesforceOrg, record_id: str) -> dict[str, Any]:
    stored = home.records("Lead")
    [row] = [r for r in stored if r["Id"] == record_id]
    return {
        "Id": record_id,
        "Company": row["Company"],
        "Email": row["Email"],
        "Phone": None,
        "SystemModstamp": row["SystemModstamp"],
    }


def test_given_an_outbound_message_then_it_is_acked_as_salesforce_expects_and_the_lead_is_taken_in(
    org: Org,
) -> None:
    record_id = org.home.create("Lead", a_sf_lead())
    body = soap_message(org.home.org_id, [_record(org.home, record_id)])
    answer = org.client().post("/webhooks/salesforce/home", content=body, headers=HEADERS)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/xml")
    ack = ET.fromstring(answer.content)
    assert ack.findtext(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack") == (
        "true"
    )
    assert org.sent.calls == [("poll_source", ("home", "webhook"))]
    step, args = org.sent.calls[0]
    org.rt.steps.resolve(step)(org.rt.context(), *args)  # what the scheduler runs at once
    with org.rt.db.transaction() as session:
        lead = session.execute(select(LeadRow).where(LeadRow.external_id == record_id)).scalar_one()
        assert lead.source_connection == "home" and lead.state in ("qualified", "routing", "nurture")


def test_the_parser_reads_notifications_nil_fields_and_skips_relationships() -> None:
    body = soap_message("00D5g000004ABCDEAA", [{"Id": "00Q1", "Company": "A &amp; B", "Phone": None}])
    message = parse_outbound(body)
    assert message.organization_id == "00D5g000004ABCDEAA" and message.action_id == "04k5g000000ABCDAAA"
    [note] = message.notifications
    assert note.sobject_type == "Lead" and note.record == {"Id": "00Q1", "Company": "A & B", "Phone": None}


@pytest.mark.parametrize(
    ("case", "status", "says"),
    [
        ("another org", 403, "not this connection's org"),
        ("another object", 400, "not Contact"),
        ("not soap", 400, "not XML"),
        ("a dtd", 400, "DTD"),
        ("no notification", 400, "no Notification"),
    ],
)
def test_given_a_message_that_is_not_this_orgs_then_a_soap_fault_and_nothing_is_polled(
    org: Org, case: str, status: int, says: str
) -> None:
    record = {"Id": "00Q5g00000XYZ12AAA", "SystemModstamp": "2026-12-07T10:00:00.000Z"}
    body = {
        "another org": soap_message("00D5g0000099999AAA", [record]),
        "another object": soap_message(org.home.org_id, [record], sobject="Contact"),
        "not soap": b'{"OrganizationId": "x"}',
        "a dtd": b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        "no notification": soap_message(org.home.org_id, []),
    }[case]
    answer = org.client().post("/webhooks/salesforce/home", content=body, headers=HEADERS)
    assert answer.status_code == status and says in answer.text
    assert "<faultcode>soapenv:Client</faultcode>" in answer.text
    assert org.sent.calls == []


def test_a_sender_outside_the_allow_list_and_an_unconfigured_connection_are_refused(org: Org) -> None:
    body = soap_message(org.home.org_id, [{"Id": "00Q5g00000XYZ12AAA"}])
    outside = org.client(host="203.0.113.9").post("/webhooks/salesforce/home", content=body, headers=HEADERS)
    assert outside.status_code == 403 and "not allowed" in outside.text
    inside = org.client(host="13.110.1.2").post("/webhooks/salesforce/home", content=body, headers=HEADERS)
    assert inside.status_code == 200
    for name in ("other", "nowhere"):
        answer = org.client().post(f"/webhooks/salesforce/{name}", content=body, headers=HEADERS)
        assert answer.status_code == 404 and "no outbound message receiver here" in answer.text
    assert org.sent.calls == [("poll_source", ("home", "webhook"))]
