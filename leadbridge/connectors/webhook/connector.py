"""The webhook connector: one signed JSON POST per event (Standard Webhooks), write only.

Rules:
- each ``WriteItem`` is one event: ``fields`` = ``{"type": <one of EVENT_TYPES>, "data": {...}}``;
  its ``key`` is the ``webhook-id``, so a redelivery carries the same id (receivers dedupe on it);
- the body is ``{"type": "lead.<type>", "timestamp": ..., "data": ...}``, signed with
  ``standardwebhooks`` (headers ``webhook-id``, ``webhook-timestamp``, ``webhook-signature``);
- 2xx → ok; 429/5xx/network → retried through the given ``RetryPolicy`` honouring Retry-After,
  and when the policy gives up the item fails with ``Action.RETRY`` (the outbox tries it later);
  other 4xx → the item fails with ``Action.SKIP`` and the partner's reason (dead letter);
- one failing event never blocks the others of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from standardwebhooks import Webhook

from leadbridge.core.errors import LeadbridgeError, RetriableError, SkipRecord
from leadbridge.core.retry import RetryPolicy, parse_retry_after
from leadbridge.ports import (
    Action,
    Change,
    Checkpoint,
    CheckResult,
    ErrorRule,
    ErrorTable,
    FieldFix,
    FieldSpec,
    RemoteObject,
    StreamInfo,
    WriteItem,
    WriteResult,
)

from .config import WebhookConfig

STREAM = "events"
EVENT_TYPES = frozenset(
    {"offered", "accepted", "declined", "returned", "status", "won", "lost", "withdrawn", "erased"}
)
ERRORS = ErrorTable(
    "Webhook",
    (
        ErrorRule(
            401, None, Action.FATAL, "the partner refused the signature; check the connection's secret"
        ),
        ErrorRule(403, None, Action.FATAL, "the partner refused the delivery; check the secret and url"),
    ),
)  # unknown 429/5xx retry, other 4xx skip (ErrorTable's defaults)


class WebhookConnector:
    """POSTs signed events to one partner URL; reads nothing (a write-only partner target)."""

    lookback = timedelta(0)

    def __init__(self, config: WebhookConfig, retry: RetryPolicy | None) -> None:
        self.config, self.name = config, config.name
        self.retry = retry or RetryPolicy()
        self.signer = Webhook(config.signing_secret.get_secret_value())
        self.http = requests.Session()
        if config.ca_file:
            # else REQUESTS_CA_BUNDLE from the environment would replace ``verify``
            self.http.trust_env = False
            self.http.verify = config.ca_file

    def _post_once(self, message_id: str, event_type: str, data: Mapping[str, Any]) -> None:
        now = datetime.now(UTC)
        body = json.dumps(
            {"type": f"lead.{event_type}", "timestamp": now.isoformat(), "data": dict(data)},
            separators=(",", ":"),
            default=str,
        )
        headers = {
            "content-type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(message_id, now, body),
        }
        try:
            answer = self.http.post(
                self.config.url, data=body.encode(), headers=headers, timeout=self.config.timeout_seconds
            )
        except requests.RequestException as error:
            raise RetriableError(f"webhook {self.name}: {type(error).__name__}") from None
        if answer.status_code < 300:
            return
        raise ERRORS.error_for(
            answer.status_code,
            None,
            answer.text[:200],
            parse_retry_after(answer.headers.get("Retry-After")),
        )

    def _post(self, message_id: str, event_type: str, data: Mapping[str, Any]) -> None:
        self.retry.call(
            lambda: self._post_once(message_id, event_type, data), what=f"webhook {self.name} {event_type}"
        )

    # -- the verbs ----------------------------------------------------------------------------
    def check(self) -> CheckResult:
        """A signed ``lead.ping`` the partner must accept (2xx)."""
        try:
            self._post(f"ping-{datetime.now(UTC).timestamp()}", "ping", {})
        except LeadbridgeError as error:
            return CheckResult(False, f"{self.name}: {error}")
        return CheckResult(True, f"{self.name}: {self.config.url} accepted a signed ping")

    def discover(self) -> list[StreamInfo]:
        return [StreamInfo(STREAM, "webhook-id", "timestamp", ("type", "timestamp", "data"))]

    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """One signed POST per item, in order (module rules)."""
        return [self._write_one(item) for item in items]

    def _write_one(self, item: WriteItem) -> WriteResult:
        event_type = str(item.fields.get("type", ""))
        if event_type not in EVENT_TYPES:
            return WriteResult(
                item.key, False, error=f"unknown event type {event_type!r}", action=Action.SKIP
            )
        try:
            self._post(item.key, event_type, item.fields.get("data") or {})
        except SkipRecord as error:
            return WriteResult(item.key, False, error=str(error), action=Action.SKIP)
        except RetriableError as error:
            return WriteResult(item.key, False, error=str(error), action=Action.RETRY)
        except LeadbridgeError as error:  # a refused signature: every item would fail the same way
            return WriteResult(item.key, False, error=str(error), action=Action.FATAL)
        return WriteResult(item.key, True, remote_id=item.key)

    # Nothing to read, describe or create: the partner answers through the REST API.
    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        return iter(())

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        raise NotImplementedError("a webhook connection sends webhooks; it receives none")

    def describe(self, object_name: str) -> RemoteObject:
        raise NotImplementedError("a webhook connection has no objects to describe")

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        raise NotImplementedError("a webhook connection has no records to fetch")

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        raise NotImplementedError("a webhook connection has no fields")
