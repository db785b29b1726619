"""Webhooks out, as Pipedrive sends them since 2025-03-17 (version 2.0).

Rules:
- a subscription (``POST /api/v1/webhooks``) names ``event_action`` (create / change / delete / *)
  and ``event_object`` (deal / person / organization / *), a ``subscription_url`` and optionally
  ``http_auth_user`` / ``http_auth_password``: the only receiver authentication Pipedrive offers
  (HTTP Basic; there is no signature);
- each write to a matching record sends one JSON POST: ``{"meta": {action, entity, entity_id, id,
  version "2.0", timestamp, company_id, user_id, webhook_id, change_source, attempt, is_bulk_edit},
  "data": {key fields} | null, "previous": {changed fields} | null}`` (``create`` has no previous,
  ``delete`` no data);
- deliveries run on a background thread; a non-2xx answer or one slower than 10 s is a failure,
  retried up to ``max_attempts`` times (``meta.attempt`` counts), and kept in ``deliveries`` with its
  outcome; ``last_http_status`` is shown on the subscription.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

import requests

TIMEOUT_SECONDS = 10.0
KEY_FIELDS = {
    "deal": ("id", "title", "status", "value", "currency", "label_ids", "person_id", "org_id", "stage_id",
             "pipeline_id", "lost_reason", "update_time", "custom_fields"),
    "person": ("id", "name", "org_id", "update_time", "custom_fields"),
    "organization": ("id", "name", "update_time", "custom_fields"),
}  # fmt: skip


class Sender(Protocol):
    """The company a webhook speaks for (its ids go into ``meta``)."""

    company_id: int
    user_id: int


def _render(value: Any) -> Any:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else value


class Webhooks:
    """Subscriptions and deliveries of one company (module rules)."""

    def __init__(self, company: Sender, *, max_attempts: int = 3) -> None:
        self.company = company
        self.max_attempts = max_attempts
        self.ca_file: str | None = None
        self.subscriptions: dict[int, dict[str, Any]] = {}
        self.deliveries: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._queue: queue.Queue[tuple[dict[str, Any], dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def subscribe(self, body: dict[str, Any]) -> dict[str, Any]:
        action, obj = body.get("event_action"), body.get("event_object")
        if not body.get("subscription_url") or action not in ("create", "change", "delete", "*"):
            raise ValueError("subscription_url and a valid event_action are required")
        if obj not in ("deal", "person", "organization", "activity", "lead", "note", "*"):
            raise ValueError(f"event_object {obj!r} is not valid")
        subscription = {
            "id": next(self._ids), "company_id": self.company.company_id, "owner_id": self.company.user_id,
            "user_id": body.get("user_id") or self.company.user_id, "event_action": action,
            "event_object": obj, "subscription_url": body["subscription_url"],
            "http_auth_user": body.get("http_auth_user"),
            "http_auth_password": body.get("http_auth_password"),
            "version": str(body.get("version") or "2.0"), "is_active": 1, "type": "general",
            "name": body.get("name"), "add_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "last_delivery_time": None, "last_http_status": None, "remove_reason": None,
        }  # fmt: skip
        with self._lock:
            self.subscriptions[subscription["id"]] = subscription
        return subscription

    def unsubscribe(self, webhook_id: int) -> bool:
        with self._lock:
            return self.subscriptions.pop(webhook_id, None) is not None

    def listed(self) -> list[dict[str, Any]]:
        """Subscriptions as ``GET /webhooks`` shows them (the password is never shown)."""
        return [
            {k: v for k, v in s.items() if k != "http_auth_password"} for s in self.subscriptions.values()
        ]

    def notify(
        self,
        kind: str,
        action: str,
        record: dict[str, Any] | None,
        previous: dict[str, Any] | None,
        source: str,
    ) -> None:
        """Queue a delivery to every matching subscription."""
        with self._lock:
            targets = [
                s for s in self.subscriptions.values()
                if s["event_action"] in (action, "*") and s["event_object"] in (kind, "*")
            ]  # fmt: skip
        if not targets:
            return
        entity = record or previous or {}
        data = None if record is None else {k: _render(record.get(k)) for k in KEY_FIELDS[kind]}
        before = None if previous is None else {k: _render(v) for k, v in previous.items()}
        for subscription in targets:
            payload = {
                "meta": {
                    "action": action, "entity": kind, "entity_id": str(entity.get("id")),
                    "id": str(uuid.uuid4()), "version": "2.0",
                    "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                    "company_id": str(self.company.company_id), "user_id": str(self.company.user_id),
                    "webhook_id": str(subscription["id"]), "change_source": source, "attempt": 1,
                    "is_bulk_edit": False,
                },
                "data": data,
                "previous": before,
            }  # fmt: skip
            self._queue.put((subscription, payload))
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="pipedrive-webhooks", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        session = requests.Session()
        session.trust_env = False
        while True:
            job = self._queue.get()
            if job is None:
                return
            subscription, payload = job
            for attempt in range(1, self.max_attempts + 1):
                payload["meta"]["attempt"] = attempt
                status = self._send(session, subscription, payload)
                if status is not None and 200 <= status < 300:
                    break

    def _send(
        self, session: requests.Session, subscription: dict[str, Any], payload: dict[str, Any]
    ) -> int | None:
        auth = None
        if subscription.get("http_auth_user"):
            auth = (str(subscription["http_auth_user"]), str(subscription.get("http_auth_password") or ""))
        record: dict[str, Any] = {
            "webhook_id": subscription["id"],
            "payload": json.loads(json.dumps(payload)),
        }
        try:
            answer = session.post(
                subscription["subscription_url"], data=json.dumps(payload).encode(), auth=auth,
                headers={"Content-Type": "application/json"}, timeout=TIMEOUT_SECONDS,
                verify=self.ca_file or True, allow_redirects=False,
            )  # fmt: skip
            status: int | None = answer.status_code
        except requests.RequestException as error:
            status, record["error"] = None, str(error)
        record["status"] = status
        subscription["last_delivery_time"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        subscription["last_http_status"] = status
        with self._lock:
            self.deliveries.append(record)
        return status

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=2)
