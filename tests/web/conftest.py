"""Web fixtures: a real local SMTP server, a seeded world of two partners, and signed-in clients."""

from __future__ import annotations

import functools
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.matching.decision import Candidate, Channel, Decision, Excluded
from leadbridge.core.model import utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.runtime import build_runtime
from leadbridge.web import accounts
from leadbridge.web.accounts import create_admin, create_partner_user
from leadbridge.web.app import create_app
from leadbridge.web.deps import ADMIN_COOKIE, PARTNER_COOKIE
from leadbridge.web.security import hash_password
from leadbridge.web.sessions import start_session
from tests.builders import a_lead, a_partner

SECRET = "test-secret-key-for-leadbridge-web"
ADMIN_PASSWORD = "correct horse battery"


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: _Inbox

    @property
    def messages(self) -> list[Message]:
        return self.handler.messages


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on loopback that keeps every message it receives."""
    handler = _Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


def body_of(message: Message) -> str:
    """The plain-text body of a received message."""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text/plain part")


@dataclass
class World:
    """Two partners (A, B) with a user each, an admin, and leads offered to each partner."""

    database: Database
    settings: Settings
    app: FastAPI
    partner_a: str
    partner_b: str
    user_a: str
    user_b: str
    offer_a: str
    offer_b: str
    lead_a: str
    lead_b: str
    extra: dict[str, str] = field(default_factory=dict)

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def partner_client(self, user_id: str) -> TestClient:
        with self.database.transaction() as session:
            token = start_session(session, "partner", user_id)
        client = self.client()
        client.cookies.set(PARTNER_COOKIE, token)
        return client

    def admin_client(self) -> TestClient:
        with self.database.transaction() as session:
            token = start_session(session, "admin", self.extra["admin_id"])
        client = self.client()
        client.cookies.set(ADMIN_COOKIE, token)
        return client

    def offer(self, partner_id: str, *, deadline_hours: float = 8, **lead_fields: Any) -> tuple[str, str]:
        """A new lead offered to ``partner_id``; returns (lead id, offer id)."""
        with self.database.transaction() as session:
            lead = a_lead(**lead_fields)
            take_in(session, lead)
            LeadService(session).apply(
                lead.id, EventKind.ROUTE, actor="test", idempotency_key=f"route:{lead.id}"
            )
            offer, _ = OfferService(session).create(
                lead.id,
                partner_id,
                round=1,
                mode="offer_n",
                deadline=utcnow() + timedelta(hours=deadline_hours),
                decision=decision_for(lead.id, partner_id),
            )
        return lead.id, offer.id


def decision_for(lead_id: str, partner_id: str) -> dict[str, Any]:
    """A routing decision as the matcher stores it with each offer."""
    return Decision(
        lead_id=lead_id,
        policy_name="default",
        policy_version=1,
        mode="offer_n",
        channel=Channel.PARTNER,
        reason="best 1 of 2 eligible partners",
        decided_at=utcnow(),
        candidates=[Candidate(partner_id, 0.82, {"distance": 0.4, "tier": 0.22}, "standard", 12.5)],
        chosen=[partner_id],
        excluded=[Excluded("P-y", "territory", "postal code 80331 outside 1-2")],
        excluded_total=1,
    ).to_dict()


def csrf_from(client: TestClient, path: str) -> str:
    """The CSRF token of the form on ``path`` (as a browser would read it)."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


@functools.cache
def _hash_once(password: str) -> str:
    """One scrypt hash per password for the whole run: at production cost (~0.3–0.7 s here) a fresh
    hash for every test's admin would dominate the web tests' time. Verification stays real."""
    return hash_password(password)


@pytest.fixture
def world(database: Database, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(accounts, "hash_password", _hash_once)
    settings = Settings(
        database_url=database.url,
        secret_key=SecretStr(SECRET),
        public_url="http://testserver",
        smtp_host=smtp_server.host,
        smtp_port=smtp_server.port,
        # the builders' leads come from connection "test": make it a home CRM so write-backs queue
        connections={"test": SalesforceConfig(name="test", role="manufacturer")},
    )
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leadbridge@example.com")
    rt = build_runtime(settings, mailer=mailer)
    database = rt.db  # seeding through the runtime's database queues write-backs, as the app's actions do
    app = create_app(rt)
    with database.transaction() as session:
        partner_a = a_partner(session, name="Alpha Heizung").id
        partner_b = a_partner(session, name="Beta Solar").id
        user_a = create_partner_user(session, partner_a, "anna@alpha.example", language="de").id
        user_b = create_partner_user(session, partner_b, "bert@beta.example").id
        admin_id = create_admin(session, "admin@maker.example", ADMIN_PASSWORD).id
    world = World(database, settings, app, partner_a, partner_b, user_a, user_b, "", "", "", "")
    world.lead_a, world.offer_a = world.offer(partner_a, industry="manufacturing", employees=120)
    world.lead_b, world.offer_b = world.offer(partner_b)
    world.extra["admin_id"] = admin_id
    return world
