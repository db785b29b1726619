"""A partner on ``kind: webhook``, end to end: routed offers and lead events reach its HTTPS endpoint as
Standard Webhooks-signed POSTs through the outbox (verified independently by the receiver), the
partner answers through the REST API, and the pipeline moves on; failures retry over hours, then
dead-letter into the cockpit, from where a replay delivers them."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from leadbridge.connectors.webhook import WebhookConfig
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.model import OfferStatus, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.policy import POLICY_VERSION, Policy
from leadbridge.core.privacy.config import Erasure
from leadbridge.core.privacy.consent import ConsentScope
from leadbridge.core.privacy.withdrawal import set_scope
from leadbridge.core.router import route_pending
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OfferRow, OutboxRow
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sandbox.tls import SandboxTLS
from leadbridge.sync import work
from leadbridge.sync.connections import event_connector_for
from leadbridge.sync.deliver import flush
from leadbridge.sync.erasure import erase
from leadbridge.sync.partner_events import EVENT_RETRIES, EventWriter
from leadbridge.web.accounts import create_admin, create_api_key
from leadbridge.web.app import create_app
from leadbridge.web.deps import ADMIN_COOKIE
from leadbridge.web.sessions import start_session
from tests.builders import TEST_SECRET_KEY, a_lead, a_partner
from tests.connectors.contract import Recorder
from tests.connectors.webhook_receiver import SECRET, Receiver, serve
from tests.web.conftest import SmtpServer, csrf_from


def _policy(**distribution: Any) -> Policy:
    return Policy.model_validate({"version": POLICY_VERSION, "distribution": distribution})


@dataclass
class Hooked:
    rt: Runtime
    app_client: TestClient
    receiver: Receiver
    partner_hook: str  # on the webhook connection "hook"
    partner_inbox: str  # on the hosted inbox
    key: str  # the hook partner's API key

    def api(self) -> TestClient:
        self.app_client.headers["Authorization"] = f"Bearer {self.key}"
        return self.app_client

    def new_lead(self) -> str:
        lead = a_lead(stage="sql")
        with self.rt.db.transaction() as session:
            take_in(session, lead)
        return lead.id

    def route(self) -> None:
        route_pending(self.rt.db, policy=self.rt.policy, rng=random.Random(1))

    def flush(self) -> None:
        work.flush_outbox(self.rt.context(), "hook")

    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.receiver.verified]

    def offer_of(self, lead_id: str, partner_id: str) -> OfferRow:
        with self.rt.db.transaction() as session:
            offer = session.execute(
                select(OfferRow).where(OfferRow.lead_id == lead_id, OfferRow.partner_id == partner_id)
            ).scalar_one()
            session.expunge(offer)
            return offer

    def state(self, lead_id: str) -> str:
        with self.rt.db.transaction() as session:
            return LeadService(session).get_row(lead_id).state


@pytest.fixture
def hooked(database: Database, smtp_server: SmtpServer) -> Iterator[Hooked]:
    tls = SandboxTLS()
    with serve(tls.server_context()) as receiver:
        hook = WebhookConfig(
            name="hook",
            url=receiver.url,
            signing_secret=SecretStr(SECRET),
            ca_file=str(tls.ca_file),
        )
        settings = Settings(
            database_url=database.url,
            secret_key=SecretStr(TEST_SECRET_KEY),
            public_url="https://leads.maker.example",
            policy=None,
            smtp_host=smtp_server.host,
            smtp_port=smtp_server.port,
            connections={"hook": hook},
        )
        rt = build_runtime(settings, mailer=SmtpMailer(smtp_server.host, smtp_server.port, "lb@example.com"))
        rt.__dict__["policy"] = _policy(mode="assign")
        with rt.db.transaction() as session:
            # the hook partner ranks first (platinum, nearer); the inbox partner is the next round
            hook_partner = a_partner(session, name="Hook Solar", connection="hook", tier="platinum").id
            inbox_partner = a_partner(session, name="Inbox Heizung", tier="registered").id
            key = create_api_key(session, "hook-crm", hook_partner)[1]
        client = TestClient(create_app(rt), follow_redirects=False)
        yield Hooked(rt, client, receiver, hook_partner, inbox_partner, key)
    tls.cleanup()


def test_given_a_webhook_partner_then_offer_accept_status_and_win_flow_as_signed_events_over_https(
    hooked: Hooked,
) -> None:
    lead_id = hooked.new_lead()
    hooked.route()
    offer = hooked.offer_of(lead_id, hooked.partner_hook)
    hooked.flush()
    [offered] = hooked.bodies()
    assert hooked.receiver.url.startswith("https://")
    assert offered["type"] == "lead.offered"
    data = offered["data"]
    assert data["offer_id"] == offer.id and data["offer"]["region"] == "DE-80"
    assert data["links"]["accept"] == f"https://leads.maker.example/api/v1/partner/offers/{offer.id}/accept"
    text = json.dumps(offered)
    assert "lead_id" not in data and "@example.com" not in text and "Muster" not in text  # blind

    api = hooked.api()
    assert api.post(f"/api/v1/partner/offers/{offer.id}/accept").status_code == 200
    lead_url = f"/api/v1/partner/leads/{lead_id}"
    status = api.post(f"{lead_url}/status", json={"status": "proposal", "expected_revenue": "8000"})
    assert status.status_code == 200
    assert api.post(f"{lead_url}/outcome", json={"result": "won", "amount": "7500"}).status_code == 200
    hooked.flush()

    types = [body["type"] for body in hooked.bodies()]
    assert types == ["lead.offered", "lead.accepted", "lead.status", "lead.won"]
    accepted, status_event, won = (body["data"] for body in hooked.bodies()[1:])
    assert accepted["lead_id"] == lead_id and accepted["lead"]["email"].endswith("@example.com")
    assert accepted["links"]["outcome"].endswith(f"/leads/{lead_id}/outcome")
    assert status_event["status"] == "proposal" and status_event["expected_revenue"] == "8000"
    assert won["amount"] == "7500" and won["currency"] == "EUR"
    assert [b["data"]["sequence"] for b in hooked.bodies()] == sorted(
        b["data"]["sequence"] for b in hooked.bodies()
    )
    # every delivery is signed: the receiver verified each with standardwebhooks; the ids are the events'
    assert [h["webhook-id"] for h, _ in hooked.receiver.verified] == [
        b["data"]["event_id"] for b in hooked.bodies()
    ]
    assert hooked.state(lead_id) == "won"
    hooked.flush()  # nothing new: nothing is sent twice
    assert len(hooked.receiver.verified) == 4 and hooked.receiver.hits == 4


def test_given_the_webhook_partner_declines_through_the_api_then_the_lead_moves_to_the_next_partner(
    hooked: Hooked,
) -> None:
    lead_id = hooked.new_lead()
    hooked.route()
    offer = hooked.offer_of(lead_id, hooked.partner_hook)
    decline = {"reason_code": "no_capacity", "comment": "fully booked in May"}
    answer = hooked.api().post(f"/api/v1/partner/offers/{offer.id}/decline", json=decline)
    assert answer.status_code == 200
    hooked.route()  # the reconcile loop's route step: the next round, without the decliner
    assert hooked.offer_of(lead_id, hooked.partner_inbox).status == OfferStatus.PENDING.value
    assert hooked.state(lead_id) == "offered"
    hooked.flush()
    assert [b["type"] for b in hooked.bodies()] == ["lead.offered", "lead.declined"]
    declined = hooked.bodies()[1]["data"]
    assert declined["offer_id"] == offer.id and declined["reason_code"] == "no_capacity"
    assert "lead_id" not in declined  # never held: still blind


def test_given_another_partner_accepts_then_the_webhook_partner_hears_its_offer_was_withdrawn(
    hooked: Hooked,
) -> None:
    hooked.rt.__dict__["policy"] = _policy(mode="offer_n", offer_n=2)
    lead_id = hooked.new_lead()
    hooked.route()
    other = hooked.offer_of(lead_id, hooked.partner_inbox)
    with hooked.rt.db.transaction() as session:
        OfferService(session).accept(other.id, actor="inbox", partner_id=hooked.partner_inbox)
    hooked.flush()
    assert [b["type"] for b in hooked.bodies()] == ["lead.offered", "lead.withdrawn"]
    withdrawn = hooked.bodies()[1]["data"]
    assert withdrawn["reason_code"] == "withdrawn" and withdrawn["comment"] == "accepted by another partner"
    assert (
        withdrawn["offer_id"] == hooked.offer_of(lead_id, hooked.partner_hook).id
        and "lead_id" not in withdrawn
    )


def test_given_an_erased_lead_then_the_webhook_partner_gets_an_erased_event_and_the_notice_is_proven(
    hooked: Hooked,
) -> None:
    lead_id = hooked.new_lead()
    hooked.route()
    offer = hooked.offer_of(lead_id, hooked.partner_hook)
    assert hooked.api().post(f"/api/v1/partner/offers/{offer.id}/accept").status_code == 200
    hooked.flush()
    erase(
        hooked.rt.db,
        lead_id,
        actor="admin",
        reason="art. 17",
        rules=Erasure(),
        targets=hooked.rt.targets,
        now=utcnow(),
    )
    hooked.flush()
    last = hooked.bodies()[-1]
    assert last["type"] == "lead.erased"
    assert last["data"]["lead_id"] == lead_id and last["data"]["offer_ids"] == [offer.id]
    assert "@example.com" not in json.dumps(last)
    with hooked.rt.db.transaction() as session:
        kinds = [e.kind for e in LeadService(session).events(lead_id)]
    assert kinds[-1] == "erasure_notice"


def test_given_consent_withdrawn_from_the_holding_webhook_partner_then_it_is_told_to_erase_its_copy(
    hooked: Hooked,
) -> None:
    lead_id = hooked.new_lead()
    hooked.route()
    offer = hooked.offer_of(lead_id, hooked.partner_hook)
    assert hooked.api().post(f"/api/v1/partner/offers/{offer.id}/accept").status_code == 200
    with hooked.rt.db.transaction() as session:
        gone = set_scope(
            session, lead_id, ConsentScope(share="none"), actor="admin", how="anonymise", now=utcnow()
        )
    assert gone == [hooked.partner_hook]
    hooked.flush()
    assert [b["type"] for b in hooked.bodies()] == ["lead.offered", "lead.accepted", "lead.erased"]
    erased = hooked.bodies()[-1]["data"]
    assert erased.pop("event_id") == hooked.receiver.verified[-1][0]["webhook-id"]
    assert erased.pop("sequence") > 0 and erased.pop("occurred_at")
    assert erased == {
        "partner_id": hooked.partner_hook,
        "offer_ids": [offer.id],
        "how": "anonymise",
        "reason_code": "consent",
        "lead_id": lead_id,
    }
    with hooked.rt.db.transaction() as session:
        notices = [e for e in LeadService(session).events(lead_id) if e.kind == "erasure_notice"]
    assert [n.payload["reason_code"] for n in notices] == ["consent"]
    assert hooked.api().get(f"/api/v1/partner/leads/{lead_id}").json()["lead"].get("email") is None


def _failing_flush(hooked: Hooked, now: datetime) -> None:
    connector = event_connector_for(hooked.rt.settings, "hook", retry=Recorder([], real=False).policy())
    settings = replace(EVENT_RETRIES, backoff=replace(EVENT_RETRIES.backoff, rng=random.Random(3)))
    flush(hooked.rt.db, "hook", EventWriter(connector), worker="t", clock=lambda: now, settings=settings)


def test_given_an_endpoint_that_stays_down_then_retries_span_hours_then_a_dead_letter_the_cockpit_replays(
    hooked: Hooked,
) -> None:
    lead_id = hooked.new_lead()
    hooked.route()
    hooked.receiver.script.extend([(503, {})] * 1000)
    now, tries = utcnow(), []
    for _ in range(EVENT_RETRIES.max_attempts):
        _failing_flush(hooked, now)
        with hooked.rt.db.transaction() as session:
            row = session.execute(select(OutboxRow).where(OutboxRow.target == "hook")).scalar_one()
            tries.append((row.status, row.attempts, row.next_attempt_at))
        now = max(now, row.next_attempt_at)
    assert [status for status, _, _ in tries] == ["pending"] * (EVENT_RETRIES.max_attempts - 1) + ["dead"]
    span = tries[-2][2] - tries[0][2]
    assert span > timedelta(hours=3), span  # retried over hours, not minutes
    assert hooked.receiver.verified == []

    hooked.receiver.script.clear()
    with hooked.rt.db.transaction() as session:
        admin = create_admin(session, "admin@maker.example", "correct horse battery")
        token = start_session(session, "admin", admin.id)
    cockpit = TestClient(hooked.app_client.app, follow_redirects=False)
    cockpit.cookies.set(ADMIN_COOKIE, token)
    page = cockpit.get("/cockpit/outbox")
    assert "partner_event · lead.offered" in page.text and "503" in page.text
    token_csrf = csrf_from(cockpit, "/cockpit/outbox")
    retried = cockpit.post("/cockpit/outbox/retry", data={"csrf_token": token_csrf, "ids": str(row.id)})
    assert retried.status_code == 303
    hooked.flush()
    [(headers, body)] = hooked.receiver.verified
    assert body["type"] == "lead.offered" and headers["webhook-id"] == body["data"]["event_id"]
    assert hooked.state(lead_id) == "offered"
