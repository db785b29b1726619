"""Timeline events read as sentences, with reason labels and partner names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from leadbridge.core.event_text import describe
from leadbridge.core.model import LeadEvent

NAMES = {"P-1": "Müller GmbH"}


def _event(kind: str, payload: dict[str, Any] | None = None, partner: str | None = "P-1") -> LeadEvent:
    return LeadEvent(
        lead_id="L-1",
        kind=kind,
        to_state="offered",
        actor="anna@mueller.example",
        source_system="inbox",
        occurred_at=datetime(2026, 11, 2, tzinfo=UTC),
        idempotency_key=f"k:{kind}",
        partner_id=partner,
        payload=payload or {},
    )


def test_events_read_as_sentences() -> None:
    cases = [
        (
            _event("decline", {"reason_code": "no_capacity", "comment": None}),
            "Declined by Müller GmbH: No capacity",
        ),
        (
            _event("return", {"reason_code": "not_a_lead", "comment": "student project"}),
            "Returned by Müller GmbH: Not a lead — “student project”",
        ),
        (_event("lose", {"reason_code": "lost_to_competitor"}), "Lost by Müller GmbH: Lost to competitor"),
        (
            _event("win", {"result": "won", "amount": "1200.50", "currency": "EUR"}),
            "Won by Müller GmbH: 1200.50 EUR",
        ),
        (_event("accept"), "Accepted by Müller GmbH"),
        (_event("offer", {"round": 1}), "Offered to Müller GmbH"),
        (_event("note", {"type": "rating", "rating": 4}), "Lead rated 4/5 by Müller GmbH"),
        (
            _event("note", {"type": "contact_attempt", "channel": "phone", "reached": True}),
            "Müller GmbH reached the contact (phone)",
        ),
        (
            _event("note", {"type": "note", "text": "call back Monday"}),
            "Note by anna@mueller.example: call back Monday",
        ),
        (_event("status", {"status": "meeting"}), "Status set by Müller GmbH: meeting"),
        (_event("receive", partner=None), "Received from inbox"),
        (_event("decline", {"reason_code": "made_up"}, partner="P-9"), "Declined by P-9: made_up"),
        (_event("consent"), "Consent changed"),
    ]
    for event, sentence in cases:
        assert describe(event, NAMES) == sentence
