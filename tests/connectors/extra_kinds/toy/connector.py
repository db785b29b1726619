"""The toy connector: the ``ports.Connector`` verbs over the toy CRM (``server.py``), written only
for the tests to show that a new kind gets the contract suite by registering."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

import requests
from pydantic import SecretStr

from leadbridge.core.errors import LeadbridgeError, NotFound, RetriableError, SessionExpired
from leadbridge.core.retry import RetryPolicy, parse_retry_after
from leadbridge.core.settings import ConnectionConfig
from leadbridge.ports import (
    NUMBER,
    TEXT,
    Action,
    Change,
    Checkpoint,
    CheckResult,
    ErrorRule,
    ErrorTable,
    FieldFix,
    FieldSpec,
    RemoteField,
    RemoteObject,
    StreamInfo,
    WebhookRejected,
    WriteItem,
    WriteResult,
    after_checkpoint,
)

ERRORS = ErrorTable(
    "Toy",
    (
        ErrorRule(401, "INVALID_KEY", Action.FATAL, "the API key was refused; check api_key"),
        ErrorRule(401, "SESSION_EXPIRED", Action.REFRESH_SESSION, "the session expired"),
        ErrorRule(403, "QUOTA", Action.STOP_QUOTA, "the daily API allowance is used up"),
        ErrorRule(404, None, Action.SKIP, "no such item"),
    ),
)
STREAM = "items"


class ToyConfig(ConnectionConfig):
    kind: Literal["toy"] = "toy"
    base_url: str
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    page_size: int = 50


class ToyConnector:
    """The verbs over one toy CRM; each call goes through the error table and the retry policy."""

    lookback = timedelta(seconds=1)

    def __init__(self, config: ToyConfig, retry: RetryPolicy | None) -> None:
        self.config, self.name = config, config.name
        self.retry = retry or RetryPolicy()
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: no proxy, no CA bundle
        self.token: str | None = None
        self.seen_events: set[str] = set()

    # -- the guarded call ----------------------------------------------------------------------
    def _once(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.token is None and path != "/login":
            self.token = self._once("POST", "/login", json={"api_key": self.config.secret("api_key")})[
                "token"
            ]
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            answer = self.http.request(
                method, self.config.base_url + path, headers=headers, timeout=10, **kwargs
            )
        except requests.RequestException as error:
            raise RetriableError(f"toy {path}: {error}") from None
        if answer.status_code < 300:
            return answer.json()
        data = answer.json()
        retry_after = answer.headers.get("Retry-After")
        raise ERRORS.error_for(
            answer.status_code,
            data.get("code"),
            data.get("message", ""),
            parse_retry_after(retry_after),
        )

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for _ in range(2):  # one fresh login after an expired session
            try:
                return self.retry.call(lambda: self._once(method, path, **kwargs), what=f"{self.name} {path}")
            except SessionExpired:
                self.token = None
        return self.retry.call(lambda: self._once(method, path, **kwargs), what=f"{self.name} {path}")

    # -- the verbs ----------------------------------------------------------------------------
    def check(self) -> CheckResult:
        try:
            fields = self._call("GET", "/schema")["fields"]
        except LeadbridgeError as error:
            return CheckResult(False, f"{self.name}: {error}")
        return CheckResult(True, f"{self.name}: connected ({len(fields)} fields)")

    def discover(self) -> list[StreamInfo]:
        return [StreamInfo(STREAM, "id", "stamp", tuple(self._call("GET", "/schema")["fields"]))]

    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        start = since.read_from(self.lookback) if since else ""
        after = ""
        while True:
            page = self._call(
                "GET", "/items", params={"from": start, "after": after, "limit": self.config.page_size}
            )
            rows = page["items"]
            changes = [Change(stream, r["id"], r["stamp"], r, bool(r["deleted"])) for r in rows]
            fresh = after_checkpoint(changes, since, since.read_from(self.lookback) if since else None)
            if fresh:
                yield fresh
            if not page["more"] or not rows:
                return
            start, after = rows[-1]["stamp"], rows[-1]["id"]

    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        body = {"items": [{"key": i.key, "fields": dict(i.fields)} for i in items]}
        answers = self._call("POST", "/items/batch", json=body)["results"]
        return [
            WriteResult(i.key, True, a["id"], a["created"])
            if a["ok"]
            else WriteResult(i.key, False, error=f"{a['code']}: {a['message']}", action=Action.SKIP)
            for i, a in zip(items, answers, strict=True)
        ]

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        secret = (self.config.secret("webhook_secret") or "").encode()
        given = next((v for k, v in headers.items() if k.lower() == "x-toy-signature"), "")
        if not hmac.compare_digest(hmac.new(secret, body, hashlib.sha256).hexdigest(), given):
            raise WebhookRejected(f"{self.name}: the signature does not match the webhook secret")
        changes = []
        for event in json.loads(body):
            if event["event_id"] in self.seen_events:
                continue
            self.seen_events.add(event["event_id"])
            changes.append(Change(STREAM, event["id"], event["stamp"], event, event.get("deleted", False)))
        return changes

    def describe(self, object_name: str) -> RemoteObject:
        fields = self._call("GET", "/schema")["fields"]
        families = {"number": NUMBER}
        return RemoteObject(
            "toy", object_name, {n: RemoteField(n, t, families.get(t, TEXT)) for n, t in fields.items()}
        )

    def fetch_record(self, object_name: str, external_id: str, fields: Sequence[str]) -> dict[str, Any]:
        try:
            return dict(self._call("GET", f"/items/{external_id}"))
        except LeadbridgeError as error:
            raise NotFound(f"{object_name} {external_id} does not exist ({error})") from None

    def create_fields(self, object_name: str, specs: Sequence[FieldSpec]) -> FieldFix:
        for spec in specs:
            self._call(
                "POST",
                "/schema",
                json={"name": spec.name, "type": "number" if spec.family == NUMBER else "text"},
            )
        return FieldFix(created=tuple(spec.name for spec in specs))
