"""``POST /webhooks/{connection}`` for a Pipedrive partner: the delivery Pipedrive sends when the
partner labels the offer's deal *Accepted* (HTTP Basic, webhooks v2, captured from the sandbox's
real POST) makes leadbridge poll the partner at once and claim the lead — with the connection's
own poll set to hourly; a delivery with the wrong credentials is refused and changes nothing."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from leadbridge.connectors.pipedrive import PipedriveConfig, connect
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs.background import start_background
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.runtime import build_runtime
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.pipedrive.company import Company
from leadbridge.web.app import create_app
from tests.builders import TEST_SECRET_KEY
from tests.connectors.sandbox_hubspot import add_contacts, portal_config
from tests.jobs.pipeline import wait_for
from tests.sync.world import a_partner


class _Capture(BaseHTTPRequestHandler):
    """Where the sandbox company's webhook subscription points: keeps each delivery as sent."""

    got: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((dict(self.headers.items()), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Hooked:
    company: Company
    client: TestClient
    database: Database

    def lead(self) -> LeadRow | None:
        with self.database.transaction() as session:
            return session.execute(select(LeadRow)).scalars().first()


@pytest.fixture
def hooked(db_url: str, database: Database) -> Iterator[Hooked]:
    server = HTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Capture.got = []
    with Sandbox.plan(partners=1, leads=0, seed=29, services=["pipedrive", "hubspot"]) as box:
        portal = box.hubspot.portal("manufacturer")
        home = portal_config(
            portal, box.hubspot.base_url("manufacturer"), box.ca_file, name="home", poll_seconds=3600
        )
        company = box.pipedrive.company("partner-01")
        partner = PipedriveConfig.model_validate(
            {"name": "pd", "kind": "pipedrive", "partner_id": "PA-1", "poll_seconds": 3600,
             "base_url": box.pipedrive.base_url("partner-01"), "api_token": company.api_token,
             "ca_file": str(box.ca_file), "webhook_user": "leadbridge", "webhook_password": "s3cret-hook"}
        )  # fmt: skip
        connect(partner).subscribe_webhooks(f"http://127.0.0.1:{server.server_port}/webhooks/pd")
        settings = Settings(
            database_url=db_url, broker_url=None, secret_key=SecretStr(TEST_SECRET_KEY),
            connections={"home": home, "pd": partner},
        )  # fmt: skip
        with database.transaction() as session:
            PartnerRepository(session).upsert(a_partner(1, "pd"))
        add_contacts(portal, 1, same_stamp=False)
        rt = build_runtime(settings)
        stop = start_background(rt)
        try:
            # the start-up poll takes the contact in, routes it and offers it into Pipedrive
            assert wait_for(lambda: len(company.deals_with("leadbridge_id")) == 1, 20, 0.1)
            # and the start-up poll of the partner is over: from here only webhooks bring news
            assert wait_for(lambda: take_snapshot(database).last_sync.get("pd") is not None, 20, 0.1)
            yield Hooked(company, TestClient(create_app(rt)), database)
        finally:
            stop()
            server.shutdown()


def _delivery_after(hooked: Hooked, change: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    [deal] = hooked.company.deals_with("leadbridge_id")
    hooked.company.clock.advance(1.0)
    hooked.company.edit_as_user("deal", deal["id"], change)

    def changed() -> list[tuple[dict[str, str], bytes]]:  # the edit's delivery, not the creation's
        return [(h, b) for h, b in _Capture.got if json.loads(b)["meta"]["action"] == "change"]

    assert wait_for(changed, 5, 0.05), "the sandbox sent no webhook for the edit"
    headers, body = changed()[-1]
    return {k: v for k, v in headers.items() if k.lower() in ("authorization", "content-type")}, body


def test_given_the_partner_accepts_in_pipedrive_then_its_webhook_claims_the_lead_within_seconds(
    hooked: Hooked,
) -> None:
    lead = hooked.lead()
    assert lead is not None and lead.state == "offered"
    headers, body = _delivery_after(hooked, {"labels": ["Offered", "Accepted"]})
    started = time.monotonic()
    answer = hooked.client.post("/webhooks/pd", content=body, headers=headers)
    assert (answer.status_code, answer.json()["accepted"]) == (202, 1), answer.text
    assert wait_for(lambda: (hooked.lead() or lead).state == "accepted", 20, 0.05), (
        hooked.lead() or lead
    ).state
    assert time.monotonic() - started < 20  # seconds, not the hourly poll (the test machine is loaded)
    again = hooked.client.post("/webhooks/pd", content=body, headers=headers)
    assert (again.status_code, again.json()["accepted"]) == (202, 0)  # a redelivery doubles nothing


def test_given_wrong_basic_credentials_then_the_delivery_is_refused_and_nothing_moves(hooked: Hooked) -> None:
    headers, body = _delivery_after(hooked, {"labels": ["Offered", "Accepted"]})
    forged = {**headers, "Authorization": "Basic bGVhZGJyaWRnZTpndWVzcw=="}  # leadbridge:guess
    answer = hooked.client.post("/webhooks/pd", content=body, headers=forged)
    assert answer.status_code == 401 and "Basic credentials" in answer.text
    time.sleep(1.0)  # would be plenty for a poll
    lead = hooked.lead()
    assert lead is not None and lead.state == "offered"
