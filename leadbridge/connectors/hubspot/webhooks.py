"""HubSpot webhook deliveries → changes: v3 signature, freshness, de-duplication, own-write skipping.

Rules (crm-api-notes §7.1):
- a delivery is trusted only with a valid ``X-HubSpot-Signature-v3`` over METHOD + full URI + raw
  body + timestamp, keyed by the app's client secret, and a timestamp within 5 minutes; anything
  else raises ``WebhookRejected`` saying which check failed (answer 401; HubSpot retries);
- the body is a JSON array of events; HubSpot delivers at least once, so an ``eventId`` already
  seen (the last ``remember`` ids) is dropped;
- events caused by leadbridge's own API writes (``changeSource`` API with ``sourceId`` = our app
  id) are echoes and dropped;
- an event names only the object and the property that changed, so it becomes a ``Change`` whose
  record is the event itself: the receiver reads the records (``HubSpotConnector.read_records``)
  or simply triggers the incremental pull.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from leadbridge.connectors.hubspot.signature import MAX_AGE_MS, SIGNATURE_HEADER, TIMESTAMP_HEADER, v3_matches
from leadbridge.ports import Change, WebhookMalformed, WebhookRejected, format_stamp

PLURAL = {"contact": "contacts", "company": "companies", "deal": "deals"}


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((str(v) for k, v in headers.items() if k.lower() == name.lower()), "").strip()


class WebhookParser:
    """Verifies and de-duplicates deliveries for one app (module rules)."""

    def __init__(
        self,
        client_secret: str,
        *,
        app_id: str | None = None,
        remember: int = 10_000,
        connection: str = "hubspot",
    ) -> None:
        self.client_secret = client_secret
        self.app_id = app_id
        self.remember = remember
        self.connection = connection
        self._seen: OrderedDict[str, None] = OrderedDict()

    def check_headers(self, headers: Mapping[str, str], now_ms: int) -> tuple[str, str]:
        """The (timestamp, signature) headers if present and fresh, else ``WebhookRejected``: cheap
        checks a receiver makes before it reads the body."""
        stamp, signature = _header(headers, TIMESTAMP_HEADER), _header(headers, SIGNATURE_HEADER)
        who = f"connection {self.connection}: HubSpot webhook refused"
        if not signature or not stamp.isdigit() or len(stamp) > 15:
            raise WebhookRejected(
                f"{who}: no {SIGNATURE_HEADER} / {TIMESTAMP_HEADER} header (not from HubSpot?)"
            )
        if abs(now_ms - int(stamp)) > MAX_AGE_MS:
            raise WebhookRejected(
                f"{who}: timestamp {stamp} is more than 5 minutes off (replayed or clock skew)"
            )
        return stamp, signature

    def verify(self, headers: Mapping[str, str], body: bytes, uri: str, method: str, now_ms: int) -> None:
        """Raise ``WebhookRejected`` naming the failed check; return quietly for a good delivery."""
        stamp, signature = self.check_headers(headers, now_ms)
        who = f"connection {self.connection}: HubSpot webhook refused"
        if not v3_matches(self.client_secret, method, uri, body, stamp, signature):
            raise WebhookRejected(
                f"{who}: the v3 signature does not match; check the app's client secret in the connection "
                f"and that {uri} is the URL HubSpot was given (scheme, host, path, query)"
            )

    def events(
        self,
        headers: Mapping[str, str],
        body: bytes,
        uri: str,
        *,
        method: str = "POST",
        now_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        """The new, foreign events of a verified delivery, in delivery order."""
        self.verify(headers, body, uri, method, int(time.time() * 1000) if now_ms is None else now_ms)
        try:
            data = json.loads(body or b"[]")
        except ValueError:
            raise WebhookMalformed(f"connection {self.connection}: webhook body is not JSON") from None
        events = [] if data is None else data if isinstance(data, list) else [data]
        if not all(isinstance(event, dict) for event in events):
            raise WebhookMalformed(
                f"connection {self.connection}: webhook body must be a JSON array of event objects"
            )
        fresh = []
        for event in events:
            key = str(event.get("eventId"))
            if key in self._seen:
                continue
            self._seen[key] = None
            if len(self._seen) > self.remember:
                self._seen.popitem(last=False)
            own = (
                event.get("changeSource") == "API"
                and self.app_id
                and str(event.get("sourceId")) == self.app_id
            )
            if not own:
                fresh.append(event)
        return fresh


def event_change(event: Mapping[str, Any]) -> Change:
    """One event as a ``Change`` of its object (stamp = when it happened)."""
    kind, _, what = str(event.get("subscriptionType", "")).partition(".")
    moment = datetime.fromtimestamp(int(event.get("occurredAt") or 0) / 1000, UTC)
    deleted = what == "deletion" or event.get("changeFlag") == "DELETED"
    return Change(
        PLURAL.get(kind, kind), str(event.get("objectId")), format_stamp(moment), dict(event), deleted
    )
