"""Which parts of a lead are personal data, and what is left of a lead once they are erased.

Rules:
- a lead keeps only ``KEPT_FIELDS`` after erasure: leadbridge's id, where it came from (the source
  connection and the home CRM's record id — a pseudonym that stops the same record from being taken
  in again), the country, the product interests, the stage, the campaign and its creation time.
  Names, e-mail, phone, title, company, website, account, industry, size, revenue, the address
  beyond the country, language, score, owner, consent details and custom fields are dropped;
- an event keeps its skeleton (id, kind, states, actor, partner, offer, time, idempotency key)
  and only the payload keys in ``KEPT_PAYLOAD_KEYS`` (codes and counts, never free text);
- an offer keeps its routing audit (it scores partners, not the person) but loses the partner's
  free-text comment.
"""

from __future__ import annotations

from typing import Any

KEPT_FIELDS = (
    "id",
    "source_connection",
    "external_id",
    "product_interests",
    "stage",
    "campaign",
    "source",
    "created_at",
)
# Payload keys that carry codes, states or counts — never a person's words or details.
KEPT_PAYLOAD_KEYS = frozenset(
    {"stage", "reason_code", "round", "mode", "event", "target", "partner_id", "connection", "how", "erased"}
    | {"scope", "withdrawn_from", "holder"}
)
ERASED_MARK = "erased at the data subject's request"


def erased_lead_data(data: dict[str, Any]) -> dict[str, Any]:
    """A lead's stored data with every personal field gone (module rules)."""
    kept = {key: data[key] for key in KEPT_FIELDS if key in data}
    country = (data.get("address") or {}).get("country")
    kept["address"] = {"country": country} if country else {}
    return kept


def erased_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """An event payload reduced to its non-personal keys (module rules)."""
    kept = {key: value for key, value in (payload or {}).items() if key in KEPT_PAYLOAD_KEYS}
    return {**kept, "erased": True}


def mentions(text: str, needles: list[str]) -> bool:
    """Whether ``text`` contains any of ``needles`` (case-insensitive; empty needles ignored)."""
    lowered = text.lower()
    return any(needle and needle.lower() in lowered for needle in needles)
