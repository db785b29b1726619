"""Pipedrive webhook deliveries → changes: HTTP Basic auth, de-duplication, deals only.

Rules (crm-api-notes-dynamics-pipedrive §5.7):
- Pipedrive signs nothing: the only receiver authentication it offers is HTTP Basic, set on the
  subscription (``http_auth_user`` / ``http_auth_password``). A delivery is trusted only with those
  credentials (compared in constant time); anything else raises ``WebhookRejected`` (answer 401);
- Basic auth proves the sender, not the body. So a body can do no more than name a deal that
  changed: the receiver then polls, and the poll reads the deal from the API — nothing in the body
  is taken as the deal's state;
- webhooks v2 (``meta.version`` 2.0): one event per POST (a JSON array of events is accepted too);
  delivery is at least once, so an event id (``meta.id``) already seen is dropped — and one seen with
  *different* content (anything but ``meta.attempt``, which counts retries) is refused: Pipedrive
  does not resend an event changed, so that is a forged or replayed id;
- v1 payloads (``current``/``previous`` without ``meta.version`` 2.0) are refused as malformed:
  subscribe with ``version: "2.0"`` (the default since 2025-03-17);
- only ``deal`` events become changes (``delete`` → a deletion); others are acknowledged and dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from leadbridge.ports import Change, WebhookMalformed, WebhookRejected, format_stamp, parse_stamp

STREAM = "deals"


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), "").strip()


class WebhookParser:
    """Verifies and de-duplicates deliveries for one connection (module rules)."""

    def __init__(self, user: str, password: str, *, connection: str, remember: int = 10_000) -> None:
        self.expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.connection, self.remember = connection, remember
        self._seen: OrderedDict[str, str] = OrderedDict()  # event id → content fingerprint

    def check_headers(self, headers: Mapping[str, str]) -> None:
        """The Basic credentials, before the body is read."""
        given = _header(headers, "Authorization")
        if not given:
            raise WebhookRejected(
                f"connection {self.connection}: Pipedrive webhook refused: no Authorization header "
                "(set http_auth_user/http_auth_password on the subscription)"
            )
        if not hmac.compare_digest(given.encode(), self.expected.encode()):
            raise WebhookRejected(
                f"connection {self.connection}: Pipedrive webhook refused: the Basic credentials do not "
                "match webhook_user / webhook_password"
            )

    def changes(self, headers: Mapping[str, str], body: bytes) -> list[Change]:
        self.check_headers(headers)
        try:
            data = json.loads(body or b"null")
        except ValueError:
            raise WebhookMalformed(f"connection {self.connection}: webhook body is not JSON") from None
        events = data if isinstance(data, list) else [data]
        if not events or not all(isinstance(e, dict) and isinstance(e.get("meta"), dict) for e in events):
            raise WebhookMalformed(f"connection {self.connection}: webhook body is not a Pipedrive event")
        fresh: list[Change] = []
        pending: dict[str, str] = {}
        for event in events:
            meta = event["meta"]
            if str(meta.get("version")) != "2.0":
                raise WebhookMalformed(
                    f"connection {self.connection}: a webhooks v1 payload; subscribe with version 2.0"
                )
            key = str(meta.get("id") or "")
            if not key:
                raise WebhookMalformed(f"connection {self.connection}: the event has no meta.id")
            fingerprint = _fingerprint(event)
            known = self._seen.get(key, pending.get(key))
            if known is not None:
                if known != fingerprint:
                    raise WebhookRejected(
                        f"connection {self.connection}: Pipedrive webhook refused: event {key} was already "
                        "delivered with different content (forged or replayed)"
                    )
                continue
            pending[key] = fingerprint
            if meta.get("entity") == "deal":
                fresh.append(_change(meta, event))
        for key, fingerprint in pending.items():  # remembered only once the whole delivery verified
            self._seen[key] = fingerprint
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
        return fresh


def _fingerprint(event: Mapping[str, Any]) -> str:
    meta = {k: v for k, v in event["meta"].items() if k != "attempt"}
    canonical = json.dumps({**event, "meta": meta}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _change(meta: Mapping[str, Any], event: Mapping[str, Any]) -> Change:
    try:
        stamp = format_stamp(parse_stamp(str(meta.get("timestamp"))))
    except ValueError:
        stamp = ""
    record = dict(event.get("data") or event.get("previous") or {})
    return Change(STREAM, str(meta.get("entity_id")), stamp, record, deleted=meta.get("action") == "delete")
