"""Webhook delivery from the HubSpot stand-in to a tiny local receiver that checks v3 signatures."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from typing import Any

import pytest
import requests
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput, SimplePublicObjectInputForCreate
from hubspot.webhooks import ApiException as WebhooksApiException
from hubspot.webhooks import (
    SettingsChangeRequest,
    SubscriptionCreateRequest,
    SubscriptionPatchRequest,
    ThrottlingSettings,
)

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.client import hubspot_client
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.service import HubSpotService
from leadbridge.sandbox.hubspot.signature import sign_v3, verify_v3
from leadbridge.sandbox.registry import OrgSpec

SECRET = "sandbox-client-secret"
_names = count(1)


@dataclass
class Receiver:
    """Records each POST, whether its v3 signature verified, and answers planned statuses."""

    planned: list[int] = field(default_factory=list)  # answered in order, then 204
    received: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> int:
        origin = self.url[: self.url.index("/", len("http://"))]  # the receiver rebuilds the full URI
        valid = verify_v3(SECRET, "POST", origin + path, body, headers)
        with self.lock:
            self.received.append({"events": json.loads(body), "valid": valid, "headers": headers})
            return self.planned.pop(0) if self.planned else 204

    def events(self) -> list[dict[str, Any]]:
        return [event for post in self.received for event in post["events"]]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status = state.handle(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/hubspot"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def service() -> Iterator[HubSpotService]:
    with Sandbox.plan(services=["hubspot"], leads=0, seed=9) as box:
        yield box.hubspot


@pytest.fixture()
def portal_and_client(service: HubSpotService, receiver: Receiver) -> tuple[Portal, HubSpot]:
    name = f"hooks-{next(_names)}"
    portal = service.add_portal(OrgSpec(name, "partner", 200 + next(_names), 0), seed_data=False)
    portal.webhooks.configure(receiver.url, SECRET, backoff=0.01)
    portal.webhooks.subscribe("contact.creation")
    portal.webhooks.subscribe("contact.propertyChange", "hs_lead_status")
    return portal, service.client(name)


def _create(hs: HubSpot, **properties: str) -> str:
    made = hs.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties=properties))
    return str(made.id)


def test_given_subscriptions_when_contact_created_and_changed_then_signed_events_arrive(
    portal_and_client, receiver
):
    portal, hs = portal_and_client
    contact_id = _create(hs, email="hook@example.org")
    hs.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"hs_lead_status": "OPEN"})
    )
    hs.crm.contacts.basic_api.update(
        contact_id, SimplePublicObjectInput(properties={"firstname": "Not subscribed"})
    )
    assert portal.webhooks.flush(5)
    assert receiver.received and all(post["valid"] for post in receiver.received), "v3 signatures must verify"
    events = receiver.events()
    assert [e["subscriptionType"] for e in events] == ["contact.creation", "contact.propertyChange"]
    creation, change = events
    assert creation["objectId"] == int(contact_id) and creation["changeFlag"] == "NEW"
    assert change["propertyName"] == "hs_lead_status" and change["propertyValue"] == "OPEN"
    assert {e["portalId"] for e in events} == {portal.portal_id} and change["attemptNumber"] == 0
    assert change["changeSource"] == "API" and change["sourceId"] == str(portal.app_id)
    assert len({e["eventId"] for e in events}) == 2


def test_given_salesperson_edit_in_crm_when_delivered_then_change_source_is_crm_ui(
    portal_and_client, receiver
):
    portal, hs = portal_and_client
    contact_id = _create(hs)
    portal.edit_as_user("contacts", contact_id, {"hs_lead_status": "CONNECTED"})
    assert portal.webhooks.flush(5)
    change = receiver.events()[-1]
    assert change["propertyValue"] == "CONNECTED" and change["changeSource"] == "CRM_UI"
    assert change["sourceId"].startswith("userId:")


def test_given_receiver_failing_twice_when_delivering_then_retried_resigned_and_accepted(
    portal_and_client, receiver
):
    portal, hs = portal_and_client
    receiver.planned = [500, 503]
    _create(hs)
    assert portal.webhooks.flush(5)
    assert [post["events"][0]["attemptNumber"] for post in receiver.received] == [0, 1, 2]
    assert all(post["valid"] for post in receiver.received)
    assert [a.status for a in portal.webhooks.attempts] == [500, 503, 204]
    assert portal.webhooks.failed == []


def test_given_receiver_always_failing_when_delivering_then_bounded_attempts_then_given_up(
    portal_and_client, receiver
):
    portal, hs = portal_and_client
    receiver.planned = [500] * 50
    _create(hs)
    assert portal.webhooks.flush(5)
    assert len(receiver.received) == portal.webhooks.settings.max_attempts == 4
    assert portal.webhooks.failed == [receiver.events()[0]["eventId"]]


def test_given_duplicate_rate_one_when_delivering_then_same_event_arrives_twice(portal_and_client, receiver):
    portal, hs = portal_and_client
    portal.webhooks.tune(duplicate_rate=1.0)
    _create(hs)
    assert portal.webhooks.flush(5)
    ids = [e["eventId"] for e in receiver.events()]
    assert len(ids) == 2 and ids[0] == ids[1], "receivers must de-duplicate on eventId"


def test_given_forged_request_when_receiver_checks_then_rejected_and_real_one_accepted(receiver):
    body = json.dumps([{"eventId": 1, "subscriptionType": "contact.creation", "objectId": 1}]).encode()
    session = requests.Session()
    session.trust_env = False
    stamp = str(int(time.time() * 1000))
    forged = sign_v3("not-the-secret", "POST", receiver.url, body, stamp)
    real = sign_v3(SECRET, "POST", receiver.url, body, stamp)
    for signature in (forged, real):
        session.post(
            receiver.url,
            data=body,
            headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp},
        )
    assert [post["valid"] for post in receiver.received] == [False, True]


def test_given_company_and_deal_subscriptions_when_created_then_their_creation_events(
    portal_and_client, receiver
):
    portal, hs = portal_and_client
    portal.webhooks.subscribe("company.creation")
    portal.webhooks.subscribe("deal.creation")
    portal.webhooks.subscribe("deal.propertyChange", "dealstage")
    company = hs.crm.companies.basic_api.create({"properties": {"name": "Ereignis GmbH"}})
    deal = hs.crm.deals.basic_api.create({"properties": {"dealname": "Solar", "dealstage": "qualifiedtobuy"}})
    hs.crm.deals.basic_api.update(deal.id, {"properties": {"dealstage": "closedwon"}})
    assert portal.webhooks.flush(5)
    seen = [(e["subscriptionType"], e["objectId"]) for e in receiver.events()]
    assert seen == [
        ("company.creation", int(company.id)),
        ("deal.creation", int(deal.id)),
        ("deal.propertyChange", int(deal.id)),
    ]
    assert all(post["valid"] for post in receiver.received)


def test_given_webhooks_api_when_configured_with_real_client_then_deliveries_follow(service, receiver):
    name = f"hooks-api-{next(_names)}"
    portal = service.add_portal(OrgSpec(name, "partner", 300 + next(_names), 0), seed_data=False)
    hs = service.client(name)
    settings, subscriptions = hs.webhooks.settings_api, hs.webhooks.subscriptions_api
    configured = settings.configure(
        portal.app_id,
        SettingsChangeRequest(
            target_url=receiver.url, throttling=ThrottlingSettings(max_concurrent_requests=5)
        ),
    )
    assert (
        configured.target_url == receiver.url and settings.get_all(portal.app_id).target_url == receiver.url
    )
    created = subscriptions.create(portal.app_id, SubscriptionCreateRequest(event_type="contact.creation"))
    paused = subscriptions.create(
        portal.app_id,
        SubscriptionCreateRequest(
            event_type="contact.propertyChange", property_name="firstname", active=True
        ),
    )
    assert (
        subscriptions.update(paused.id, portal.app_id, SubscriptionPatchRequest(active=False)).active is False
    )
    assert {s.id for s in subscriptions.get_all(portal.app_id).results} == {created.id, paused.id}
    assert subscriptions.get_by_id(created.id, portal.app_id).event_type == "contact.creation"

    contact_id = _create(hs, firstname="Ignored change")
    hs.crm.contacts.basic_api.update(contact_id, SimplePublicObjectInput(properties={"firstname": "Paused"}))
    assert portal.webhooks.flush(5)
    assert [e["subscriptionType"] for e in receiver.events()] == ["contact.creation"]
    assert verify_v3(
        portal.client_secret,
        "POST",
        receiver.url,
        json.dumps(receiver.received[0]["events"], separators=(",", ":")),
        receiver.received[0]["headers"],
    ), "deliveries are signed with the portal's client secret (listed by describe())"
    assert subscriptions.archive(created.id, portal.app_id) is None
    assert settings.clear(portal.app_id) is None
    with pytest.raises(WebhooksApiException) as caught:
        settings.get_all(portal.app_id)
    assert caught.value.status == 404
    wrong_key = hubspot_client(
        service.base_url(name), portal.access_token, service.ca_file, developer_api_key="x"
    )
    with pytest.raises(WebhooksApiException) as refused:
        wrong_key.webhooks.settings_api.get_all(portal.app_id)
    assert refused.value.status == 401
