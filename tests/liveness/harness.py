"""A whole deployment for liveness tests, and one function per entry point a person or system uses.

The world: a Salesforce manufacturer org (``home``, polled) and a HubSpot manufacturer portal
(``hs``, announced by signed webhooks), one partner on its own Salesforce org (``p1``, polled for
claims) and two partners on the hosted inbox (``inbox-a``/``inbox-b``: pages and the REST API).
The runtime is built from the settings like ``leadbridge run`` builds it; the web app runs on it;
CLI commands run in-process through ``leadbridge``'s own Typer app with a ``leadbridge.yaml``.
Every action goes through the entry point a user would use — nothing here writes a lead state.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, update
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import utcnow
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, OutboxRow, PartnerRow
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3
from leadbridge.sync.connections import connector_for
from leadbridge.sync.projector import WRITEBACK, WRITEBACK_KINDS
from leadbridge.web.accounts import create_admin, create_api_key, create_partner_user
from leadbridge.web.app import create_app
from leadbridge.web.deps import ADMIN_COOKIE, PARTNER_COOKIE
from leadbridge.web.sessions import start_session
from tests.connectors.sandbox_hubspot import add_contacts, portal_config
from tests.connectors.sandbox_salesforce import add_leads, org_config, update_lead
from tests.web.conftest import csrf_from

HOOK_URL = "https://leadbridge.example.com/webhooks/hs"
SECRET = "liveness-secret-key-0123456789abcdef"
ADMIN = ("admin@maker.example", "liveness-admin-pw")
# Where a lead ends when nobody at leadbridge owes it anything: a person acts, or it is over.
# ``rejected`` is an end state too: intake's duplicate check (issue 15) rejects a generated lead
# that repeats an earlier one's e-mail or phone, before any action reaches it.
SETTLED = frozenset({"accepted", "working", "won", "lost", "direct", "nurture", "closed", "rejected"})
WAITING_ON_US = frozenset({"qualified", "routing", "returned"})
ID_FIELD = "LeadBridge_Id__c"
PARTNER_FIELDS = {
    "territory": {"countries": ["DE"]},
    "product_lines": ["heat_pumps"],
    "certifications": [{"name": "heat_pumps", "level": 2}],
    "location_latitude": 48.14,
    "location_longitude": 11.58,
    "languages": ["de", "en"],
    "capacity": {"max_open": 5000},
}


@dataclass
class InboxPartner:
    partner_id: str
    user_id: str
    api_key: str


@dataclass
class Pipeline:
    box: Sandbox
    settings: Settings
    rt: Runtime
    config: Path
    sf_partner: str = ""
    inbox: dict[str, InboxPartner] = field(default_factory=dict)
    admin_id: str = ""
    client: TestClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = TestClient(create_app(self.rt), base_url="http://testserver")

    @property
    def db(self) -> Database:
        return self.rt.db

    # -- new leads -----------------------------------------------------------------------------
    def new_home_leads(self, count: int) -> list[str]:
        """Leads created in the Salesforce org; the reconcile loop's poll brings them in."""
        return add_leads(self.box.salesforce.org("manufacturer"), count, same_stamp=False)

    def new_webhook_lead(self) -> str:
        """A contact created in HubSpot and announced by a signed webhook (the HubSpot entry point)."""
        portal = self.box.hubspot.portal("manufacturer")
        (contact,) = add_contacts(portal, 1, same_stamp=False)
        now = int(time.time() * 1000)
        body = json.dumps(
            [{"eventId": int(contact) % 10**9, "subscriptionType": "contact.creation",
              "objectId": int(contact), "occurredAt": now, "portalId": 1, "changeSource": "CRM_UI"}]
        ).encode()  # fmt: skip
        headers = {
            SIGNATURE_HEADER: sign_v3(portal.client_secret, "POST", HOOK_URL, body, now),
            TIMESTAMP_HEADER: str(now),
            "Content-Type": "application/json",
        }
        response = self.client.post("/webhooks/hs", content=body, headers=headers)
        assert response.status_code == 202, response.text
        return contact

    def lead_ids(self, external_ids: list[str]) -> dict[str, str]:
        with self.db.transaction() as session:
            rows = session.execute(
                select(LeadRow.external_id, LeadRow.id).where(LeadRow.external_id.in_(external_ids))
            ).all()
        return {external: lead_id for external, lead_id in rows if external}

    # -- reading state -----------------------------------------------------------------------------
    def state(self, lead_id: str) -> str:
        with self.db.transaction() as session:
            return session.get_one(LeadRow, lead_id).state

    def pending_offer(self, lead_id: str) -> tuple[str, str] | None:
        """(offer id, partner id) of the lead's pending offer, if any."""
        with self.db.transaction() as session:
            row = session.execute(
                select(OfferRow.id, OfferRow.partner_id).where(
                    OfferRow.lead_id == lead_id, OfferRow.status == "pending"
                )
            ).first()
        return (row[0], row[1]) if row else None

    def holder(self, lead_id: str) -> str | None:
        with self.db.transaction() as session:
            return session.get_one(LeadRow, lead_id).partner_id

    def channel_of(self, partner_id: str) -> str:
        return "crm" if partner_id == self.sf_partner else "inbox"

    # -- entry points: the hosted inbox and the REST API ------------------------------------------------
    def _partner_client(self, partner_id: str) -> TestClient:
        user = next(p for p in self.inbox.values() if p.partner_id == partner_id)
        with self.db.transaction() as session:
            token = start_session(session, "partner", user.user_id)
        client = TestClient(self.client.app, base_url="http://testserver", follow_redirects=False)
        client.cookies.set(PARTNER_COOKIE, token)
        return client

    def _api(self, partner_id: str) -> dict[str, str]:
        key = next(p.api_key for p in self.inbox.values() if p.partner_id == partner_id)
        return {"Authorization": f"Bearer {key}"}

    def inbox_offer(self, offer_id: str, partner_id: str, verb: str) -> int:
        client = self._partner_client(partner_id)
        page = f"/inbox/offers/{offer_id}"
        data = {"csrf_token": csrf_from(client, page)}
        if verb == "decline":
            data["reason_code"] = "no_capacity"
        return client.post(f"{page}/{verb}", data=data).status_code

    def api_offer(self, offer_id: str, partner_id: str, verb: str) -> int:
        body = {"reason_code": "no_fit"} if verb == "decline" else None
        url = f"/api/v1/partner/offers/{offer_id}/{verb}"
        return self.client.post(url, json=body, headers=self._api(partner_id)).status_code

    def inbox_lead(self, lead_id: str, partner_id: str, action: str, **fields: str) -> int:
        client = self._partner_client(partner_id)
        page = f"/inbox/leads/{lead_id}"
        data = {"csrf_token": csrf_from(client, page), **fields}
        return client.post(f"{page}/{action}", data=data).status_code

    def api_return(self, lead_id: str, partner_id: str, reason: str) -> int:
        url = f"/api/v1/partner/leads/{lead_id}/return"
        return self.client.post(url, json={"reason_code": reason}, headers=self._api(partner_id)).status_code

    # -- entry points: the partner's own CRM -----------------------------------------------------------
    def crm_status(self, lead_id: str, status: str) -> bool:
        """The partner edits its copy of the lead in its Salesforce org; False if it has no copy yet."""
        org = self.box.salesforce.org("partner-01")
        record = next((r for r in org.records("Lead") if r.get(ID_FIELD) == lead_id), None)
        if record is None:
            return False
        update_lead(org, record["Id"], {"Status": status})
        return True

    # -- entry points: the cockpit ---------------------------------------------------------------------
    def _admin(self) -> TestClient:
        with self.db.transaction() as session:
            token = start_session(session, "admin", self.admin_id)
        client = TestClient(self.client.app, base_url="http://testserver", follow_redirects=False)
        client.cookies.set(ADMIN_COOKIE, token)
        return client

    def cockpit(self, lead_id: str, action: str, **fields: str) -> int:
        admin = self._admin()
        page = f"/cockpit/leads/{lead_id}"
        data = {"csrf_token": csrf_from(admin, page), **fields}
        return admin.post(f"{page}/{action}", data=data).status_code

    # -- entry points: the CLI -------------------------------------------------------------------------
    def cli(self, *args: str) -> Any:
        return CliRunner().invoke(app, ["--config", str(self.config), *args])

    # -- the SLA: time passes ---------------------------------------------------------------------------
    def let_expire(self, offer_id: str) -> None:
        """The offer's accept-by deadline passes (the SLA tick, run by the reconcile loop, expires it)."""
        with self.db.transaction() as session:
            session.execute(
                update(OfferRow)
                .where(OfferRow.id == offer_id)
                .values(deadline=utcnow() - timedelta(seconds=1))
            )

    # -- the outcome ----------------------------------------------------------------------------------
    def stalled(self, lead_ids: list[str]) -> dict[str, str]:
        """Leads leadbridge owes a next step (the liveness property says: none, once quiet)."""
        with self.db.transaction() as session:
            rows = session.execute(select(LeadRow.id, LeadRow.state).where(LeadRow.id.in_(lead_ids))).all()
            open_offers = set(
                session.execute(
                    select(OfferRow.lead_id).where(
                        OfferRow.lead_id.in_(lead_ids), OfferRow.status.in_(["pending", "accepted"])
                    )
                ).scalars()
            )
        return {
            lead_id: state
            for lead_id, state in rows
            if state in WAITING_ON_US or (state == "offered" and lead_id not in open_offers)
        }

    def unsent_changes(self, lead_ids: list[str]) -> list[str]:
        """Outbox rows not sent, and leads whose latest home-visible change no write-back sent after it."""
        problems: list[str] = []
        with self.db.transaction() as session:
            for row in session.execute(select(OutboxRow).where(OutboxRow.status != "sent")).scalars():
                problems.append(
                    f"outbox row {row.id} ({row.target}/{row.kind}) is {row.status}: {row.last_error}"
                )
            for lead_id in lead_ids:
                last_change = session.execute(
                    select(LeadEventRow.occurred_at)
                    .where(
                        LeadEventRow.lead_id == lead_id,
                        LeadEventRow.kind.in_([k.value for k in WRITEBACK_KINDS]),
                    )
                    .order_by(LeadEventRow.occurred_at.desc())
                    .limit(1)
                ).scalar()
                # A lead_status row is built from the lead's state when it is sent, so the change is
                # out once a row of the lead was sent after it happened.
                last_sent = session.execute(
                    select(OutboxRow.sent_at)
                    .where(
                        OutboxRow.lead_id == lead_id, OutboxRow.kind == WRITEBACK, OutboxRow.status == "sent"
                    )
                    .order_by(OutboxRow.sent_at.desc())
                    .limit(1)
                ).scalar()
                if last_change is not None and (last_sent is None or last_sent < last_change):
                    problems.append(f"{lead_id}: change at {last_change}, last write-back sent {last_sent}")
        return problems


def wait_until(predicate: Any, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def _config_file(directory: Path, settings: Settings) -> Path:
    connections: dict[str, Any] = {}
    for name, config in settings.connections.items():
        connections[name] = {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in config.model_dump().items()
            if value is not None
        }
    path = directory / "leadbridge.yaml"
    path.write_text(
        yaml.safe_dump({"database_url": settings.database_url, "connections": connections}), encoding="utf-8"
    )
    return path


@contextmanager
def a_pipeline(database_url: str, directory: Path, **settings_extra: Any) -> Iterator[Pipeline]:
    """The world of the module docstring on ``database_url`` (migrated and empty)."""
    _register()
    with Sandbox.plan(partners=1, leads=0, seed=13, services=["salesforce", "hubspot"]) as box:
        home = box.salesforce.org("manufacturer")
        portal = box.hubspot.portal("manufacturer")
        partner_org = box.salesforce.org("partner-01")
        connections = {
            "home": org_config(home, box.ca_file, name="home", poll_seconds=1),
            "hs": portal_config(
                portal,
                box.hubspot.base_url("manufacturer"),
                box.ca_file,
                name="hs",
                webhook_url=HOOK_URL,
                app_id=portal.app_id,
                poll_seconds=3600,
            ),
            "p1": org_config(
                partner_org, box.ca_file, name="p1", role="partner", partner_id="PA-SF", poll_seconds=1
            ),
        }
        settings = Settings(
            database_url=database_url,
            secret_key=SecretStr(SECRET),
            public_url="http://testserver",
            connections=connections,
            **settings_extra,
        )
        hubspot_home = connector_for(settings, "hs")
        hubspot_home.install_properties()  # the leadbridge_* properties write-backs fill (setup)
        rt = build_runtime(settings)
        pipeline = Pipeline(box, settings, rt, _config_file(directory, settings))
        with rt.db.transaction() as session:
            repo = PartnerRepository(session)
            sf, _ = repo.upsert(Partner.model_validate({"name": "SF Partner", "external_id": "PA-SF",
                                                        "connection": "p1", **PARTNER_FIELDS}))  # fmt: skip
            pipeline.sf_partner = sf.id
            for name in ("inbox-a", "inbox-b"):
                partner, _ = repo.upsert(
                    Partner.model_validate({"name": name, "external_id": name, **PARTNER_FIELDS})
                )
                user = create_partner_user(session, partner.id, f"{name}@partner.example")
                _, key = create_api_key(session, name, partner.id)
                pipeline.inbox[name] = InboxPartner(partner.id, user.id, key)
            pipeline.admin_id = create_admin(session, *ADMIN).id
            assert session.execute(select(PartnerRow)).scalars().all()
        yield pipeline


__all__ = ["SETTLED", "LeadState", "Pipeline", "a_pipeline", "wait_until"]
