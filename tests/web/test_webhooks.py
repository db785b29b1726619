"""``POST /webhooks/{connection}``: a signed HubSpot delivery makes leadbridge pull, route and offer the
new contact within seconds (embedded mode, the real HubSpot connector against the sandbox portal);
forged, stale and misdirected deliveries are refused and change nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs.background import start_background
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.runtime import build_runtime
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3
from leadbridge.web.app import create_app
from tests.builders import TEST_SECRET_KEY, a_partner
from tests.connectors.sandbox_hubspot import add_contacts, portal_config
from tests.jobs.pipeline import wait_for

HOOK_URL = "https://leadbridge.example.com/webhooks/home"  # what HubSpot was given (behind a proxy)


@dataclass
class Hooked:
    portal: Portal
    client: TestClient
    database: Database

    def deliver(self, contact_id: str, *, secret: str | None = None, age_ms: int = 0) -> tuple[int, str]:
        now = int(time.time() * 1000)
        body = json.dumps(
            [{"eventId": int(contact_id) % 10**9, "subscriptionType": "contact.creation",
              "objectId": int(contact_id), "occurredAt": now, "portalId": 1, "changeSource": "CRM_UI"}]
        ).encode()  # fmt: skip
        stamp = now - age_ms
        signature = sign_v3(secret or self.portal.client_secret, "POST", HOOK_URL, body, stamp)
        headers = {
            SIGNATURE_HEADER: signature,
            TIMESTAMP_HEADER: str(stamp),
            "Content-Type": "application/json",
        }
        response = self.client.post("/webhooks/home", content=body, headers=headers)
        return response.status_code, response.text

    def state_of(self, contact_id: str) -> str | None:
        with self.database.transaction() as session:
            return session.execute(
                select(LeadRow.state).where(LeadRow.external_id == contact_id)
            ).scalar_one_or_none()


@pytest.fixture
def hooked(db_url: str, database: Database) -> Iterator[Hooked]:
    with Sandbox.plan(partners=0, leads=0, seed=21, services=["hubspot"]) as box:
        portal = box.hubspot.portal("manufacturer")
        config = portal_config(
            portal, box.hubspot.base_url("manufacturer"), box.ca_file, name="home",
            webhook_url=HOOK_URL, app_id=portal.app_id, poll_seconds=3600,
        )  # fmt: skip
        settings = Settings(
            database_url=db_url,
            broker_url=None,
            secret_key=SecretStr(TEST_SECRET_KEY),
            connections={"home": config},
        )
        with database.transaction() as session:
            a_partner(session)  # an inbox partner for every lead of the sandbox's kind
        rt = build_runtime(settings)
        stop = start_background(rt)
        try:
            # the scheduler polls once at start; after that only webhooks bring news (poll hourly)
            assert wait_for(lambda: take_snapshot(database).last_sync.get("home") is not None, 10)
            yield Hooked(portal, TestClient(create_app(rt)), database)
        finally:
            stop()


def test_given_a_signed_creation_webhook_then_the_contact_is_offered_within_seconds(hooked: Hooked) -> None:
    (contact,) = add_contacts(hooked.portal, 1, same_stamp=False)
    started = time.monotonic()
    status, text = hooked.deliver(contact)
    assert (status, json.loads(text)["accepted"]) == (202, 1)
    assert wait_for(lambda: hooked.state_of(contact) == "offered", 10, 0.05), hooked.state_of(contact)
    assert time.monotonic() - started < 10


def test_given_forged_or_stale_deliveries_then_they_are_refused_and_nothing_is_pulled(hooked: Hooked) -> None:
    (contact,) = add_contacts(hooked.portal, 1, same_stamp=False)
    forged = hooked.deliver(contact, secret="not-the-app-secret")
    stale = hooked.deliver(contact, age_ms=6 * 60 * 1000)
    assert forged[0] == 401 and "signature does not match" in forged[1]
    assert stale[0] == 401 and "more than 5 minutes" in stale[1]
    time.sleep(1.0)  # would be plenty for a poll to take the contact in
    assert hooked.state_of(contact) is None


def test_given_an_unknown_connection_then_the_answer_names_no_connection(hooked: Hooked) -> None:
    unknown = hooked.client.post("/webhooks/nowhere", content=b"[]")
    assert unknown.status_code == 404 and "home" not in unknown.text
    assert unknown.json()["detail"] == "no webhook receiver here"
