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


def test_privacy_events_say_who_was_told_what() -> None:
    erase = _event(
        "erase",
        {
            "reason": "Art. 17 request",
            "recipients": [
                {"target": "home", "how": "anonymise", "partner_id": None},
                {"target": "acme_sf", "how": "delete", "partner_id": "P-1"},
                {"target": "inbox", "how": "inbox", "partner_id": "P-2"},
            ],
        },
        partner=None,
    )
    assert (
        describe(erase, NAMES) == "Personal data erased (Art. 17 request); telling acme_sf, home, the inbox"
    )
    alone = _event("erase", {"erased": True}, partner=None)
    assert describe(alone, NAMES) == "Personal data erased (data subject's request); no other system held it"
    deleted = _event("erasure_notice", {"target": "acme_sf", "how": "delete", "reason_code": "erasure"})
    assert describe(deleted, NAMES) == "acme_sf confirmed: record deleted (held by Müller GmbH)"
    home = _event("erasure_notice", {"target": "home", "how": "anonymise"}, partner=None)
    assert describe(home, NAMES) == "home confirmed: record anonymised"
    inbox = _event("erasure_notice", {"target": "inbox", "how": "inbox"})
    assert describe(inbox, NAMES) == "Müller GmbH told in the inbox: erased at the data subject's request"
    consent_notice = _event(
        "erasure_notice", {"target": "acme_sf", "how": "anonymise", "reason_code": "consent"}
    )
    assert describe(consent_notice, NAMES) == (
        "acme_sf confirmed: record anonymised after the consent withdrawal (held by Müller GmbH)"
    )
    consent = _event("consent", {"scope": "no partner", "withdrawn_from": ["P-1", "P-3"], "how": "delete"})
    assert describe(consent, NAMES) == (
        "Consent changed: no partner; withdrawn from 2 partner(s); Müller GmbH's copy to be deleted"
    )
    kept = _event("consent", {"scope": "any partner", "withdrawn_from": [], "how": "withdraw"}, partner=None)
    assert describe(kept, NAMES) == "Consent changed: any partner"
    blind = _event("consent", {"scope": "no partner", "withdrawn_from": ["P-1"], "how": "keep"})
    assert (
        describe(blind, NAMES)
        == "Consent changed: no partner; withdrawn from 1 partner(s); Müller GmbH keeps its copy, blind"
    )


def test_a_duplicate_attached_to_a_lead_reads_as_such() -> None:
    merged = _event("note", {"duplicate": "L-2", "match": "admin"}, partner=None)
    assert describe(merged, NAMES) == "Duplicate L-2 attached: merged by an admin"
    found = _event("note", {"duplicate": "L-3", "match": "email"}, partner=None)
    assert describe(found, NAMES) == "Duplicate L-3 attached: same email"
