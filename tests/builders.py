"""Fluent builders for test data: leads and partners with sensible defaults, and lifecycle paths."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy.orm import Session

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository

_counter = itertools.count(1)

# A valid app secret key for tests (the app refuses keys under 32 characters).
TEST_SECRET_KEY = "test-only-secret-key-0123456789abcdefghij"


def a_lead(**overrides: Any) -> Lead:
    number = next(_counter)
    data: dict[str, Any] = {
        "source_connection": "test",
        "external_id": f"EXT-{number}",
        "first_name": "Anna",
        "last_name": f"Muster{number}",
        "email": f"anna{number}@example.com",
        "company": f"Muster {number} GmbH",
        "address": {"postal_code": "80331", "city": "München", "country": "DE"},
        "product_interests": ["heat_pumps"],
        "stage": "mql",
        "consent": {"share_with_partners": True},
    }
    data.update(overrides)
    return Lead.model_validate(data)


def a_partner(session: Session, **overrides: Any) -> Partner:
    number = next(_counter)
    data: dict[str, Any] = {
        "name": f"Partner {number}",
        "external_id": f"PA-{number}",
        "territory": {"countries": ["DE"]},
        "product_lines": ["heat_pumps"],
        "certifications": [{"name": "heat_pumps", "level": 2}],
    }
    data.update(overrides)
    partner, _ = PartnerRepository(session).upsert(Partner.model_validate(data))
    return partner


# The shortest event path from "nothing" to each state; ``P`` stands for the accepting partner.
PATHS: dict[LeadState, list[EventKind]] = {
    LeadState.RECEIVED: [],
    LeadState.QUALIFIED: [EventKind.QUALIFY],
    LeadState.NURTURE: [EventKind.NURTURE],
    LeadState.REJECTED: [EventKind.REJECT],
    LeadState.ROUTING: [EventKind.QUALIFY, EventKind.ROUTE],
    LeadState.OFFERED: [EventKind.QUALIFY, EventKind.ROUTE, EventKind.OFFER],
    LeadState.ACCEPTED: [EventKind.QUALIFY, EventKind.ROUTE, EventKind.OFFER, EventKind.ACCEPT],
    LeadState.WORKING: [
        EventKind.QUALIFY,
        EventKind.ROUTE,
        EventKind.OFFER,
        EventKind.ACCEPT,
        EventKind.STATUS,
    ],
    LeadState.WON: [EventKind.QUALIFY, EventKind.ROUTE, EventKind.OFFER, EventKind.ACCEPT, EventKind.WIN],
    LeadState.LOST: [EventKind.QUALIFY, EventKind.ROUTE, EventKind.OFFER, EventKind.ACCEPT, EventKind.LOSE],
    LeadState.RETURNED: [
        EventKind.QUALIFY,
        EventKind.ROUTE,
        EventKind.OFFER,
        EventKind.ACCEPT,
        EventKind.RETURN,
    ],
    LeadState.DIRECT: [EventKind.QUALIFY, EventKind.DIRECT],
    LeadState.CLOSED: [EventKind.QUALIFY, EventKind.DIRECT, EventKind.CLOSE],
}


def lead_in_state(session: Session, state: LeadState, partner_id: str = "P-holder") -> str:
    """Create a lead and drive it into ``state`` through the service; returns its id."""
    service = LeadService(session)
    lead = a_lead()
    service.receive(lead, actor="test", source_system="test", idempotency_key=f"recv:{lead.id}")
    for step, kind in enumerate(PATHS[state]):
        service.apply(
            lead.id,
            kind,
            actor="test",
            idempotency_key=f"{lead.id}:{step}:{kind.value}",
            partner_id=partner_id if kind in HOLDER_EVENTS else None,
        )
    return lead.id


HOLDER_EVENTS = {EventKind.ACCEPT, EventKind.STATUS, EventKind.WIN, EventKind.LOSE, EventKind.RETURN}
