"""Webhook subscriptions of one portal and the delivery of v3-signed event arrays.

Delivery mirrors HubSpot (crm-api-notes §7.1) at test speed: events are POSTed as a JSON array
(at most 100 per request) to the configured target URL with ``X-HubSpot-Signature-v3`` and
``X-HubSpot-Request-Timestamp``; any non-2xx answer, timeout or connection failure is retried a
bounded number of times with exponential backoff (seconds, not HubSpot's 24 hours), re-signed and
with ``attemptNumber`` raised; when asked (``duplicate_rate``) a delivered batch is sent again,
as HubSpot sometimes does. Every attempt is logged in ``attempts`` so tests can see what happened.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import requests

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.hubspot.objects import epoch_ms
from leadbridge.sandbox.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3

EVENT_KINDS = ("creation", "deletion", "propertyChange")


@dataclass(frozen=True)
class WebhookSettings:
    """Where and how one portal's app delivers (target URL + client secret + retry shape)."""

    target_url: str
    client_secret: str
    max_attempts: int = 4  # the first try plus three retries
    backoff: float = 0.05  # seconds before the first retry; doubled each time, capped
    max_backoff: float = 1.0
    duplicate_rate: float = 0.0  # probability a delivered batch is delivered once more
    timeout: float = 5.0  # HubSpot waits 5 s for an answer
    verify: str | bool | None = None  # CA file or True for https targets; None: the portal's default


@dataclass(frozen=True)
class Subscription:
    """``<object>.<kind>``, e.g. ``contact.creation`` or ``deal.propertyChange`` on one property."""

    id: int
    object_type: str  # singular: contact, company, deal
    kind: str
    property_name: str | None = None
    active: bool = True

    @property
    def event_type(self) -> str:
        return f"{self.object_type}.{self.kind}"


@dataclass
class Attempt:
    """One POST of a batch: which events, which attempt, the HTTP status (None: no answer)."""

    event_ids: list[int]
    attempt: int
    status: int | None
    duplicate: bool = False


@dataclass
class _Batch:
    events: list[dict[str, Any]]
    attempt: int = 0


@dataclass
class Webhooks:
    """Subscriptions, the pending event queue and a delivery thread for one portal."""

    portal_id: int
    app_id: int
    clock: Clock
    seed: int = 0
    ca_file: str | bool = True  # what https targets are verified against unless settings say otherwise
    settings: WebhookSettings | None = None
    subscriptions: list[Subscription] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)  # event ids given up on

    def __post_init__(self) -> None:
        self._pending: list[dict[str, Any]] = []
        self._busy = False
        self._next_event = 1000 + self.portal_id % 1000
        self._rng = random.Random(f"webhooks|{self.seed}")
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._session = requests.Session()
        self._session.trust_env = False  # never let REQUESTS_CA_BUNDLE/proxies reroute deliveries

    # -- configuration ---------------------------------------------------------------------------
    def configure(self, target_url: str, client_secret: str, **options: Any) -> WebhookSettings:
        """Set the target URL and client secret (plus any ``WebhookSettings`` field); starts delivery."""
        with self._cond:
            self.settings = WebhookSettings(target_url, client_secret, **options)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="hubspot-webhooks", daemon=True)
                self._thread.start()
        return self.settings

    def tune(self, **options: Any) -> None:
        """Change delivery options (e.g. ``duplicate_rate``) of the configured target."""
        with self._cond:
            if self.settings is None:
                raise RuntimeError("configure() the webhook target first")
            self.settings = replace(self.settings, **options)

    def clear_target(self) -> None:
        """Forget the target URL: nothing is delivered (or queued) until ``configure`` again."""
        with self._cond:
            self.settings = None

    def set_active(self, subscription_id: int, active: bool) -> Subscription:
        """Pause or resume one subscription; KeyError when there is no such subscription."""
        with self._cond:
            for index, sub in enumerate(self.subscriptions):
                if sub.id == subscription_id:
                    self.subscriptions[index] = replace(sub, active=active)
                    return self.subscriptions[index]
        raise KeyError(subscription_id)

    def unsubscribe(self, subscription_id: int) -> None:
        """Remove one subscription (unknown ids are ignored)."""
        with self._cond:
            self.subscriptions = [s for s in self.subscriptions if s.id != subscription_id]

    def subscribe(
        self, event_type: str, property_name: str | None = None, *, active: bool = True
    ) -> Subscription:
        """Subscribe to ``<object>.<kind>`` (``propertyChange`` needs ``property_name``)."""
        object_type, _, kind = event_type.partition(".")
        if object_type not in ("contact", "company", "deal") or kind not in EVENT_KINDS:
            raise ValueError(f"unsupported subscription type {event_type!r}")
        if kind == "propertyChange" and not property_name:
            raise ValueError("a propertyChange subscription names its property")
        with self._cond:
            number = max((s.id for s in self.subscriptions), default=0) + 1
            subscription = Subscription(number, object_type, kind, property_name, active)
            self.subscriptions.append(subscription)
        return subscription

    # -- events (called by the portal while it holds its own lock) ------------------------------
    def record_creation(self, object_type: str, object_id: str, source: str, source_id: str) -> None:
        for sub in self._matching(object_type, "creation"):
            self._enqueue(sub, object_id, source, source_id, {"changeFlag": "NEW"})

    def record_deletion(self, object_type: str, object_id: str, source: str, source_id: str) -> None:
        for sub in self._matching(object_type, "deletion"):
            self._enqueue(sub, object_id, source, source_id, {"changeFlag": "DELETED"})

    def record_changes(
        self, object_type: str, object_id: str, changed: Mapping[str, str], source: str, source_id: str
    ) -> None:
        for sub in self._matching(object_type, "propertyChange"):
            name = sub.property_name
            if name is not None and name in changed:
                extra = {"propertyName": name, "propertyValue": changed[name]}
                self._enqueue(sub, object_id, source, source_id, extra)

    def _matching(self, object_type: str, kind: str) -> list[Subscription]:
        if self.settings is None:
            return []
        return [s for s in self.subscriptions if s.active and s.object_type == object_type and s.kind == kind]

    def _enqueue(
        self, sub: Subscription, object_id: str, source: str, source_id: str, extra: dict[str, Any]
    ) -> None:
        with self._cond:
            self._next_event += 1
            self._pending.append(
                {
                    "eventId": self._next_event,
                    "subscriptionId": sub.id,
                    "portalId": self.portal_id,
                    "appId": self.app_id,
                    "occurredAt": epoch_ms(self.clock.now()),
                    "subscriptionType": sub.event_type,
                    "attemptNumber": 0,
                    "objectId": int(object_id),
                    "changeSource": source,
                    "sourceId": source_id,
                    **extra,
                }
            )
            self._cond.notify_all()

    # -- delivery --------------------------------------------------------------------------------
    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or given up; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)

    def stop(self) -> None:
        """Stop the delivery thread (pending events are dropped)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._session.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._stopping)
                if self._stopping:
                    return
                batch = _Batch(self._pending[:100])
                del self._pending[:100]
                self._busy = True
            try:
                self._deliver(batch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _deliver(self, batch: _Batch) -> None:
        delay = 0.0
        while True:
            settings = self.settings
            assert settings is not None
            status = self._post(settings, batch)
            if status is not None and 200 <= status < 300:
                if self._rng.random() < settings.duplicate_rate:
                    self._post(settings, batch, duplicate=True)
                return
            batch.attempt += 1
            if batch.attempt >= settings.max_attempts:
                self.failed.extend(event["eventId"] for event in batch.events)
                return
            delay = min(settings.max_backoff, settings.backoff if delay == 0 else delay * 2)
            with self._cond:  # a stop() ends the backoff wait early
                if self._cond.wait_for(lambda: self._stopping, delay * (1 + 0.2 * self._rng.random())):
                    return

    def _post(self, settings: WebhookSettings, batch: _Batch, *, duplicate: bool = False) -> int | None:
        events = [dict(event, attemptNumber=batch.attempt) for event in batch.events]
        body = json.dumps(events, separators=(",", ":")).encode()
        stamp = str(int(time.time() * 1000))  # wall time, not the portal clock: receivers check age
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Webhooks",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign_v3(settings.client_secret, "POST", settings.target_url, body, stamp),
        }
        status: int | None
        try:
            response = self._session.post(
                settings.target_url,
                data=body,
                headers=headers,
                timeout=settings.timeout,
                verify=settings.verify,
            )
            status = response.status_code
        except requests.RequestException:
            status = None
        self.attempts.append(Attempt([e["eventId"] for e in events], batch.attempt, status, duplicate))
        return status
