"""Signed one-tap links in offer e-mails: ``/inbox/o/<token>`` opens an offer ready to accept/decline.

Rules: a token names one offer, one partner user and one action (``accept``, ``decline`` or
``view``), expires at a fixed time, and is an HMAC-SHA256 under the app's secret key, so it cannot be
forged or altered. Opening it never changes anything by itself (mail scanners prefetch links): it
signs the user in and shows the offer with the action pre-selected; the tap on the page decides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

ACTIONS = ("accept", "decline", "view")


@dataclass(frozen=True)
class OfferLink:
    offer_id: str
    user_id: str
    action: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret_key: str, body: str) -> str:
    return _b64(hmac.new(secret_key.encode(), f"offer-link:{body}".encode(), hashlib.sha256).digest())


def sign_offer_link(secret_key: str, link: OfferLink) -> str:
    if link.action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}")
    payload = {"o": link.offer_id, "u": link.user_id, "a": link.action, "e": int(link.expires_at.timestamp())}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{_mac(secret_key, body)}"


def read_offer_link(secret_key: str, token: str, *, now: datetime) -> OfferLink | None:
    """The link if the signature is valid and it has not expired, else None."""
    body, _, mac = token.partition(".")
    if not body or not hmac.compare_digest(_mac(secret_key, body), mac):
        return None
    try:
        payload = json.loads(_unb64(body))
        link = OfferLink(
            offer_id=str(payload["o"]),
            user_id=str(payload["u"]),
            action=str(payload["a"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        return None
    if link.action not in ACTIONS or link.expires_at <= now:
        return None
    return link
