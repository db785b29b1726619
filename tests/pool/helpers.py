"""Helpers for pool tests: route leads into pools under a policy, partner API clients, identity scans."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient

from leadbridge.core.intake import take_in
from leadbridge.core.model import utcnow
from leadbridge.core.policy import Policy, parse_policy
from leadbridge.core.router import route_pending
from leadbridge.core.store.tables import LeadRow
from leadbridge.web.accounts import create_api_key
from tests.builders import a_lead
from tests.web.conftest import World

_phones = itertools.count(1)

# What must never show before a claim: every way to name or reach the person or the company.
SECRETS = ("email", "phone", "company", "first_name", "last_name", "website")


def use_policy(world: World, **distribution: Any) -> Policy:
    """Start the world's app with a policy distributing by ``distribution`` (and return it)."""
    sla = distribution.pop("sla", {})
    policy = parse_policy({"version": 1, "distribution": distribution, "sla": sla})
    world.app.state.policy = policy
    return policy


def pooled_lead(
    world: World, policy: Policy, *, clock: Callable[[], datetime] = utcnow, **fields: Any
) -> dict[str, Any]:
    """A new lead with identity, taken in and routed under ``policy``; returns its identity fields."""
    number = fields.pop("n", "")
    lead = a_lead(
        first_name="Evelyn",
        last_name=f"Verborgen{number}",
        email=f"evelyn.verborgen{number}@geheim.example",
        phone=f"+49 89 555 {next(_phones):04d}",  # one person per lead: routing skips duplicates
        website=f"https://geheim{number}.example",
        company=f"Geheimfirma {number} GmbH",
        **fields,
    )
    with world.database.transaction() as session:
        take_in(session, lead)
    route_pending(world.database, policy=policy, lead_ids=[lead.id], clock=clock)
    return {"id": lead.id, **{key: getattr(lead, key) for key in SECRETS}}


def api(world: World, partner_id: str) -> TestClient:
    """A partner system's client (its own API key)."""
    with world.database.transaction() as session:
        key = create_api_key(session, f"crm-{partner_id}", partner_id)[1]
    client = world.client()
    client.headers["Authorization"] = f"Bearer {key}"
    return client


def assert_blind(text: str, lead: dict[str, Any]) -> None:
    """Nothing in ``text`` names or reaches the lead's person or company."""
    for key in SECRETS:
        value = lead.get(key)
        if value:
            assert str(value) not in text, f"{key} {value!r} leaked"
            assert str(value).lower() not in text.lower(), f"{key} {value!r} leaked"


def state_of(world: World, lead_id: str) -> tuple[str, str | None]:
    with world.database.transaction() as session:
        row = session.get(LeadRow, lead_id)
        assert row is not None
        return row.state, row.partner_id
