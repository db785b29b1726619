"""Encrypted one-tap links in offer e-mails: ``/inbox/o/<token>`` opens an offer ready to accept/decline.

Rules: a token names one offer, one partner user and one action (``accept``, ``decline`` or
``view``), expires at a fixed time and carries a random id (``nonce``) of its own. It is the payload
encrypted with AES-256-GCM under a key derived from the app's secret key (HKDF-SHA256), so it can be
neither forged, altered nor read: the user id and the offer id are not in clear in a mail or a log.
Opening it never changes anything by itself (mail scanners prefetch links); the sign-in it grants is
single-use (``web/auth.py`` records the nonce), while the action page stays reachable until expiry.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

ACTIONS = ("accept", "decline", "view")
VERSION = b"\x02"  # v1 tokens were signed, readable JSON; they are no longer accepted
NONCE_BYTES = 12
MAX_TOKEN_CHARS = 1024


@dataclass(frozen=True)
class OfferLink:
    offer_id: str
    user_id: str
    action: str
    expires_at: datetime
    nonce: str = field(default_factory=lambda: os.urandom(12).hex())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _cipher(secret_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"leadbridge offer-link v2").derive(
        secret_key.encode()
    )
    return AESGCM(key)


def sign_offer_link(secret_key: str, link: OfferLink) -> str:
    """The token for ``link``: version byte, random IV and the AES-GCM-sealed payload, base64url."""
    if link.action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}")
    payload = {
        "o": link.offer_id,
        "u": link.user_id,
        "a": link.action,
        "e": int(link.expires_at.timestamp()),
        "n": link.nonce,
    }
    iv = os.urandom(NONCE_BYTES)
    sealed = _cipher(secret_key).encrypt(iv, json.dumps(payload, separators=(",", ":")).encode(), VERSION)
    return _b64(VERSION + iv + sealed)


def read_offer_link(secret_key: str, token: str, *, now: datetime) -> OfferLink | None:
    """The link if the token decrypts under the key and has not expired, else None (never raises
    for bad input: any string from a URL is fine)."""
    if not token or len(token) > MAX_TOKEN_CHARS or not token.isascii():
        return None
    try:
        raw = _unb64(token)
    except (ValueError, binascii.Error):
        return None
    if len(raw) <= 1 + NONCE_BYTES or raw[:1] != VERSION:
        return None
    try:
        plain = _cipher(secret_key).decrypt(raw[1 : 1 + NONCE_BYTES], raw[1 + NONCE_BYTES :], VERSION)
        payload = json.loads(plain)
        link = OfferLink(
            offer_id=str(payload["o"]),
            user_id=str(payload["u"]),
            action=str(payload["a"]),
            expires_at=datetime.fromtimestamp(int(payload["e"]), UTC),
            nonce=str(payload["n"]),
        )
    except (InvalidTag, ValueError, KeyError, TypeError):
        return None
    if link.action not in ACTIONS or link.expires_at <= now:
        return None
    return link
