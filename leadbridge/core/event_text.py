"""Lead events as sentences a person reads ("Declined by Müller GmbH: No capacity").

Rules:
- one sentence per event kind, naming the partner (by name when known, else its id) and, for a
  decline, loss, return or reclaim, the reason's label from the reason catalog plus any comment;
- a win names its amount and currency; a rating its stars and comment; a status change the new
  status; an unknown kind (or a payload without the usual keys) still reads, from the kind alone;
- privacy events say who was told what, from payload codes only (an erased lead keeps no more):
  an erasure its reason and recipients, an erasure notice which system confirmed (record deleted
  or anonymised, or the inbox partner told), a consent change the new scope, how many partners it
  was withdrawn from and what happens to the holder's copy;
- the raw payload is never replaced: the cockpit shows it one click away (``<details>``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from leadbridge.core.model import LeadEvent
from leadbridge.core.reasons import ReasonCatalog

_PLAIN = {
    "receive": "Received from {source}",
    "update": "Updated from {source}",
    "qualify": "Qualified",
    "nurture": "Sent to nurture",
    "route": "Routing started",
    "direct": "Handed to direct sales",
    "offer": "Offered to {partner}",
    "expire": "Offer to {partner} expired unanswered",
    "withdraw": "Offer to {partner} withdrawn",
    "reroute": "Re-routed",
    "accept": "Accepted by {partner}",
    "close": "Closed",
    "reopen": "Reopened",
    "remind": "Reminder sent to {partner}",
    "conflict": "Conflicting change from {source}",
    "write_back": "Written back to a CRM",
}


def _text(value: Any) -> str:
    return str(value).strip() if value not in (None, "") else ""


def _with_comment(sentence: str, payload: Mapping[str, Any]) -> str:
    comment = _text(payload.get("comment") or payload.get("note"))
    return f"{sentence} — “{comment}”" if comment else sentence


def describe(event: LeadEvent, partner_names: Mapping[str, str], reasons: ReasonCatalog | None = None) -> str:
    """The event as one sentence (module rules)."""
    catalog = reasons or ReasonCatalog()
    payload = event.payload or {}
    partner = partner_names.get(event.partner_id or "", event.partner_id or "the partner")
    source = event.source_system
    kind = str(event.kind)

    def reason() -> str:
        code = _text(payload.get("reason_code") or payload.get("reason"))
        return catalog.label(code) if code else ""

    special: dict[str, Callable[[], str]] = {
        "decline": lambda: _with_comment(_joined(f"Declined by {partner}", reason()), payload),
        "lose": lambda: _with_comment(_joined(f"Lost by {partner}", reason()), payload),
        "return": lambda: _with_comment(_joined(f"Returned by {partner}", reason()), payload),
        "reject": lambda: _joined("Rejected", reason()),
        "escalate": lambda: _joined("Escalated", reason()),
        "win": lambda: _won(partner, payload),
        "status": lambda: _with_comment(
            _joined(f"Status set by {partner}", _text(payload.get("status"))), payload
        ),
        "note": lambda: _note(partner, event.actor, payload),
        "erase": lambda: _erased(payload),
        "erasure_notice": lambda: _erasure_notice(partner if event.partner_id else "", payload),
        "consent": lambda: _consent(partner if event.partner_id else "", payload),
    }
    if kind in special:
        return special[kind]()
    if kind in _PLAIN:
        return _PLAIN[kind].format(partner=partner, source=source)
    return kind.replace("_", " ").capitalize()


def _joined(head: str, tail: str) -> str:
    return f"{head}: {tail}" if tail else head


def _won(partner: str, payload: Mapping[str, Any]) -> str:
    amount = _text(payload.get("amount"))
    if not amount:
        return f"Won by {partner}"
    return f"Won by {partner}: {amount} {_text(payload.get('currency')) or 'EUR'}"


def _note(partner: str, actor: str, payload: Mapping[str, Any]) -> str:
    kind = payload.get("type")
    if kind == "rating":
        return _with_comment(f"Lead rated {_text(payload.get('rating'))}/5 by {partner}", payload)
    if kind == "contact_attempt":
        channel = _text(payload.get("channel")) or "contact"
        reached = "reached the contact" if payload.get("reached") else "tried to reach the contact"
        return _with_comment(f"{partner} {reached} ({channel})", payload)
    if payload.get("duplicate"):  # core/dedup.py: a later lead of the same person was attached here
        match = _text(payload.get("match"))
        how = "merged by an admin" if match == "admin" else f"same {match}" if match else ""
        return _joined(f"Duplicate {payload['duplicate']} attached", how)
    text = _text(payload.get("text"))
    return f"Note by {actor}: {text}" if text else f"Note by {actor}"


_DONE = {"delete": "record deleted", "anonymise": "record anonymised"}


def _erased(payload: Mapping[str, Any]) -> str:
    reason = _text(payload.get("reason")) or "data subject's request"
    targets = [str(r.get("target")) for r in payload.get("recipients") or [] if isinstance(r, Mapping)]
    told = sorted({"the inbox" if t == "inbox" else t for t in targets})
    tail = f"; telling {', '.join(told)}" if told else "; no other system held it"
    return f"Personal data erased ({reason}){tail}"


def _erasure_notice(partner: str, payload: Mapping[str, Any]) -> str:
    target, how = _text(payload.get("target")), _text(payload.get("how"))
    if target == "inbox" or how == "inbox":
        return f"{partner or 'The partner'} told in the inbox: erased at the data subject's request"
    why = " after the consent withdrawal" if payload.get("reason_code") == "consent" else ""
    at = f" (held by {partner})" if partner else ""
    return f"{target or 'A CRM'} confirmed: {_DONE.get(how, 'erasure done')}{why}{at}"


def _consent(partner: str, payload: Mapping[str, Any]) -> str:
    scope = _text(payload.get("scope"))
    sentence = f"Consent changed: {scope}" if scope else "Consent changed"
    gone = payload.get("withdrawn_from") or []
    if gone:
        sentence += f"; withdrawn from {len(gone)} partner(s)"
    how = _text(payload.get("how"))
    if partner and how in _DONE:
        sentence += f"; {partner}'s copy to be {'deleted' if how == 'delete' else 'anonymised'}"
    elif partner and how == "keep":
        sentence += f"; {partner} keeps its copy, blind"
    return sentence
