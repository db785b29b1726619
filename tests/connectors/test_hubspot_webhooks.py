"""HubSpot webhooks: the sandbox portal delivers real v3-signed event arrays to a local receiver that
hands them to ``HubSpotConnector.parse_webhook``; forged, stale and duplicate deliveries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from leadbridge.connectors.hubspot import HubSpotConnector, WebhookRejected
from leadbridge.ports import Change, WriteItem
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.signature import sign_v3
from tests.connectors.sandbox_hubspot import HubSpotHarness, add_contacts


class Receiver:
    """A loopback HTTP endpoint that verifies each delivery through the connector (401 if refused)."""

    def __init__(self) -> None:
        self.connector: HubSpotConnector | None = None
        self.accepted: list[Change] = []
        self.refused: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                assert receiver.connector is not None
                try:
                    receiver.accepted += receiver.connector.parse_webhook(
                        dict(self.headers), body, receiver.url
                    )
                    self.send_response(204)
                except WebhookRejected as error:
                    receiver.refused.append(str(error))
                    self.send_response(401)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/hubspot?portal=1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def world() -> Iterator[tuple[HubSpotHarness, Receiver]]:
    with Sandbox.plan(partners=0, leads=0, seed=9, services=["hubspot"]) as box:
        portal = box.hubspot.portal("manufacturer")
        harness = HubSpotHarness(portal, box.hubspot.base_url(), box.ca_file)
        receiver = Receiver()
        receiver.connector = harness.connector(app_id=portal.app_id, webhook_url=receiver.url)
        portal.webhooks.configure(receiver.url, portal.client_secret, duplicate_rate=1.0)
        portal.webhooks.subscribe("contact.creation")
        portal.webhooks.subscribe("contact.propertyChange", "hs_lead_status")
        portal.webhooks.subscribe("contact.propertyChange", "leadbridge_status")
        try:
            yield harness, receiver
        finally:
            receiver.server.shutdown()


def test_given_creations_and_changes_delivered_twice_then_each_event_is_taken_once(
    world: tuple[HubSpotHarness, Receiver],
) -> None:
    harness, receiver = world
    ids = add_contacts(harness.portal, 3, same_stamp=False)
    harness.portal.edit_as_user("contacts", ids[0], {"hs_lead_status": "CONNECTED"})
    assert harness.portal.webhooks.flush()
    assert any(a.duplicate for a in harness.portal.webhooks.attempts)  # HubSpot re-sent a batch
    kinds = sorted((c.external_id, c.record["subscriptionType"]) for c in receiver.accepted)
    assert kinds == sorted([*((i, "contact.creation") for i in ids), (ids[0], "contact.propertyChange")])
    change = next(c for c in receiver.accepted if c.record["subscriptionType"] == "contact.propertyChange")
    assert change.stream == "contacts" and change.record["propertyValue"] == "CONNECTED"
    assert receiver.refused == []
    assert receiver.connector is not None
    current = receiver.connector.read_records([c.external_id for c in receiver.accepted])
    assert sorted(c.external_id for c in current) == sorted(ids)


def test_given_our_own_api_write_when_delivered_then_it_is_an_echo(
    world: tuple[HubSpotHarness, Receiver],
) -> None:
    harness, receiver = world
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    assert receiver.connector is not None
    receiver.connector.write_batch("contacts", [WriteItem("k", {"leadbridge_status": "offered"}, contact)])
    harness.portal.edit_as_user("contacts", contact, {"hs_lead_status": "OPEN"})
    assert harness.portal.webhooks.flush()
    changes = [c.record.get("propertyName") for c in receiver.accepted if c.external_id == contact]
    assert changes == [None, "hs_lead_status"]  # the creation and the user's edit; not our write


def _signed(secret: str, uri: str, body: bytes, stamp: int) -> dict[str, str]:
    return {
        "X-HubSpot-Signature-v3": sign_v3(secret, "POST", uri, body, stamp),
        "X-HubSpot-Request-Timestamp": str(stamp),
    }


def test_given_a_forged_stale_or_unsigned_delivery_then_it_is_refused_with_the_reason(
    world: tuple[HubSpotHarness, Receiver],
) -> None:
    harness, receiver = world
    connector = receiver.connector
    assert connector is not None
    body = b'[{"eventId":1,"subscriptionType":"contact.creation","objectId":5,"occurredAt":1700000000000}]'
    now = int(time.time() * 1000)
    good = _signed(harness.portal.client_secret, receiver.url, body, now)
    assert [c.external_id for c in connector.parse_webhook(good, body, receiver.url)] == ["5"]
    forged = body.replace(b'"objectId":5', b'"objectId":6')
    with pytest.raises(WebhookRejected, match="signature does not match"):
        connector.parse_webhook(good, forged, receiver.url)
    with pytest.raises(WebhookRejected, match="signature does not match"):
        connector.parse_webhook(_signed("not-the-secret", receiver.url, body, now), body, receiver.url)
    with pytest.raises(WebhookRejected, match="5 minutes"):
        stale = _signed(harness.portal.client_secret, receiver.url, body, now - 301_000)
        connector.parse_webhook(stale, body, receiver.url)
    with pytest.raises(WebhookRejected, match="header"):
        connector.parse_webhook({}, body, receiver.url)
