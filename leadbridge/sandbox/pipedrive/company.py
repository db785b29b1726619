"""One Pipedrive company: its records (deals, persons, organizations), deal fields and labels,
tokens, limits, faults, counters and webhook subscriptions.

Records are kept as the API v2 shape (``custom_fields`` nested, ``org_id``), with datetimes as
aware UTC; ``wire.py`` renders them (RFC 3339, seconds). Every write moves ``update_time`` on the
company clock (freeze it to give several records one stamp) and notifies the webhook subscribers.
``edit_as_user`` is a change made in Pipedrive's UI (``change_source: app``).
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.counters import Counters
from leadbridge.sandbox.faults import Faults
from leadbridge.sandbox.pipedrive.limits import Limits
from leadbridge.sandbox.pipedrive.webhooks import Webhooks

OBJECTS = ("deal", "person", "organization")
# The standard deal fields v2 ``dealFields`` lists (field_code, name, type); ``label`` holds the labels.
STANDARD_DEAL_FIELDS = (
    ("title", "Title", "varchar"), ("value", "Value", "monetary"), ("currency", "Currency", "varchar"),
    ("status", "Status", "status"), ("lost_reason", "Lost reason", "varchar"),
    ("person_id", "Contact person", "people"), ("org_id", "Organization", "org"),
    ("pipeline_id", "Pipeline", "double"), ("stage_id", "Stage", "stage"),
    ("label", "Label", "set"), ("update_time", "Update time", "date"), ("add_time", "Deal created", "date"),
)  # fmt: skip
DEFAULT_LABELS = ("Hot", "Warm", "Cold")


class ApiError(Exception):
    """An error answer: HTTP status and Pipedrive's ``error`` text."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status, self.error, self.extra = status, error, extra


class Company:
    """The state of one company (module rules)."""

    def __init__(self, name: str, company_id: int, *, seed: int) -> None:
        self.name, self.company_id, self.seed = name, company_id, seed
        rng_token = hashlib.sha1(f"pipedrive|{seed}|{name}".encode()).hexdigest()
        self.api_token = rng_token  # 40 hex characters, like Pipedrive's
        self.client_id = f"{rng_token[:16]}"
        self.client_secret = hashlib.sha1(f"secret|{seed}|{name}".encode()).hexdigest()
        self.refresh_token = f"{company_id}:1:{hashlib.sha1(f'refresh|{seed}|{name}'.encode()).hexdigest()}"
        self.access_tokens: set[str] = set()
        self.user_id = 10_000 + company_id % 1000
        self.clock = Clock()
        self.faults = Faults(seed)
        self.counters = Counters()
        self.limits = Limits(self.faults.quota)
        self.webhooks = Webhooks(self)
        self.deals: dict[int, dict[str, Any]] = {}
        self.persons: dict[int, dict[str, Any]] = {}
        self.organizations: dict[int, dict[str, Any]] = {}
        self.custom_fields: dict[str, dict[str, Any]] = {}  # hash → {id, name, field_type, options}
        self._field_ids = itertools.count(12_500)
        self.labels: list[dict[str, Any]] = []
        self._label_ids = itertools.count(1)
        for label in DEFAULT_LABELS:
            self.add_label(label)
        self._ids = {kind: itertools.count(1) for kind in OBJECTS}
        self.lock = threading.RLock()
        self.base_url = ""  # set when served (OAuth's api_domain)

    # -- tokens ------------------------------------------------------------------------------
    def issue_access_token(self) -> str:
        token = f"{self.company_id}:{self.user_id}:{secrets.token_hex(20)}"
        self.access_tokens.add(token)
        return token

    def expire_tokens(self) -> None:
        """Every OAuth access token stops working (they last an hour); the refresh token still does."""
        self.access_tokens.clear()

    # -- fields and labels -------------------------------------------------------------------
    def add_label(self, name: str) -> dict[str, Any]:
        label = {"id": next(self._label_ids), "label": name, "color": "blue"}
        self.labels.append(label)
        return label

    def add_custom_field(self, name: str, field_type: str) -> dict[str, Any]:
        key = hashlib.sha1(f"{self.name}|{name}|{len(self.custom_fields)}".encode()).hexdigest()
        definition = {"id": next(self._field_ids), "key": key, "name": name, "field_type": field_type,
                      "options": None}  # fmt: skip
        self.custom_fields[key] = definition
        return definition

    def field_by_name(self, name: str) -> dict[str, Any] | None:
        return next((f for f in self.custom_fields.values() if f["name"] == name), None)

    # -- records -----------------------------------------------------------------------------
    def table(self, kind: str) -> dict[int, dict[str, Any]]:
        return {"deal": self.deals, "person": self.persons, "organization": self.organizations}[kind]

    def create(self, kind: str, values: dict[str, Any], *, source: str = "api") -> dict[str, Any]:
        with self.lock:
            now = self.clock.now()
            record = {**_defaults(kind, self.user_id), **values, "id": next(self._ids[kind]),
                      "add_time": now, "update_time": now}  # fmt: skip
            self.table(kind)[record["id"]] = record
        self.webhooks.notify(kind, "create", record, None, source)
        return record

    def update(
        self, kind: str, record_id: int, changes: dict[str, Any], *, source: str = "api"
    ) -> dict[str, Any]:
        with self.lock:
            record = self.get(kind, record_id)
            previous = {k: record.get(k) for k in changes}
            if "custom_fields" in changes:
                merged = {**record.get("custom_fields", {}), **changes["custom_fields"]}
                changes = {**changes, "custom_fields": {k: v for k, v in merged.items() if v is not None}}
            record.update(changes)
            now = self.clock.now()
            if kind == "deal" and "status" in changes and changes["status"] != previous.get("status"):
                record["won_time"] = now if record["status"] == "won" else None
                record["lost_time"] = now if record["status"] == "lost" else None
                record["close_time"] = now if record["status"] in ("won", "lost") else None
                if record["status"] != "lost":
                    record["lost_reason"] = None
            record["update_time"] = now
        self.webhooks.notify(kind, "change", record, previous, source)
        return record

    def delete(self, kind: str, record_id: int, *, source: str = "api") -> None:
        with self.lock:
            record = self.get(kind, record_id)
            record["is_deleted"] = True
            if kind == "deal":
                record["status"] = "deleted"
            record["update_time"] = self.clock.now()
        self.webhooks.notify(kind, "delete", None, record, source)

    def get(self, kind: str, record_id: int) -> dict[str, Any]:
        record = self.table(kind).get(record_id)
        if record is None or record.get("is_deleted"):
            raise ApiError(404, f"{kind.capitalize()} not found")
        return record

    def live(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.table(kind).values() if not r.get("is_deleted")]

    def edit_as_user(self, kind: str, record_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        """A change made by a person in Pipedrive's web app (labels by name: ``labels=[...]``)."""
        if "labels" in changes:
            names = changes.pop("labels")
            changes["label_ids"] = [self.label_id(name) for name in names]
        return self.update(kind, record_id, changes, source="app")

    def label_id(self, name: str) -> int:
        return next(label["id"] for label in self.labels if label["label"] == name)

    def deals_with(self, field_name: str) -> list[dict[str, Any]]:
        """Live deals whose custom field ``field_name`` is set."""
        definition = self.field_by_name(field_name)
        if definition is None:
            return []
        return [d for d in self.live("deal") if d.get("custom_fields", {}).get(definition["key"])]

    def describe(self, url: str) -> dict[str, Any]:
        return {
            "name": self.name, "base_url": url, "api_token": self.api_token, "company_id": self.company_id,
            "client_id": self.client_id, "client_secret": self.client_secret,
            "refresh_token": self.refresh_token, "oauth_token_url": f"{url}/oauth/token",
        }  # fmt: skip


def _defaults(kind: str, owner: int) -> dict[str, Any]:
    common: dict[str, Any] = {"owner_id": owner, "is_deleted": False, "custom_fields": {}, "label_ids": []}
    if kind == "deal":
        return {**common, "value": 0, "currency": "EUR", "status": "open", "lost_reason": None,
                "person_id": None, "org_id": None, "pipeline_id": 1, "stage_id": 1, "won_time": None,
                "lost_time": None, "close_time": None, "probability": None, "expected_close_date": None,
                "origin": "API", "visible_to": 3}  # fmt: skip
    if kind == "person":
        return {**common, "name": "", "emails": [], "phones": [], "org_id": None, "visible_to": 3}
    return {**common, "name": "", "address": None, "visible_to": 3}


def stamp(moment: datetime | None) -> str | None:
    """RFC 3339 in UTC, seconds (v2)."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def ints(values: Iterable[Any]) -> list[int]:
    return [int(v) for v in values]
