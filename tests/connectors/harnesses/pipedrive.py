"""The contract harness of ``pipedrive``: a sandbox company (partner side) on the wall clock.

The connector authenticates with OAuth (client credentials + refresh token), so an expired session
is a real one: the sandbox revokes every access token and the connector refreshes. The deals the
harness adds "as a user" carry ``leadbridge_id`` (leadbridge's offers the partner works on).
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from leadbridge.ports import TEXT, Change, Checkpoint, ConnectorRegistry, FieldSpec, WriteItem
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.pipedrive.company import Company
from tests.connectors.contract import Recorder, build

HOOK_USER, HOOK_PASSWORD = "leadbridge", "hook-secret-123"


class PipedriveContractHarness:
    kind = "pipedrive"
    stream = "deals"
    write_stream = "deals:upsert"
    page_size = 10
    describe_object = "deals"
    key_field = "id"
    missing_id = "987654"

    def __init__(self, registry: ConnectorRegistry, company: Company, url: str, ca_file: Any) -> None:
        self.registry, self.company, self.url, self.ca_file = registry, company, url, ca_file
        self.slept: list[float] = []
        self._numbers, self._events = itertools.count(1), itertools.count(1)
        self.connector().install()

    def values(self, **extra: Any) -> dict[str, Any]:
        c = self.company
        return {
            "name": "p1", "kind": "pipedrive", "role": "partner",
            "oauth_token_url": f"{self.url}/oauth/token",
            "client_id": c.client_id, "client_secret": c.client_secret, "refresh_token": c.refresh_token,
            "ca_file": str(self.ca_file), "webhook_user": HOOK_USER, "webhook_password": HOOK_PASSWORD,
            "page_size": self.page_size, **extra,
        }  # fmt: skip

    def connector(self, **extra: Any) -> Any:
        return build(self.registry, self.values(**extra), Recorder(self.slept, real=True).policy())

    def broken_connector(self) -> Any:
        values = self.values(api_token="0" * 40, base_url=self.url)
        for key in ("client_id", "client_secret", "refresh_token"):
            values.pop(key)
        return build(self.registry, values, Recorder(self.slept, real=True).policy())

    def _key(self) -> str:
        field = self.company.field_by_name("leadbridge_id")
        assert field is not None
        return str(field["key"])

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        clock = self.company.clock
        clock.advance(1.0)  # stamps are whole seconds: a new batch starts in a new second
        if same_stamp:
            clock.freeze()
        try:
            ids = []
            for _ in range(count):
                n = next(self._numbers)
                deal = self.company.create(
                    "deal",
                    {"title": f"Offer {n}", "custom_fields": {self._key(): f"L-harness{n}"}},
                    source="app",
                )
                ids.append(str(deal["id"]))
                if not same_stamp:
                    clock.advance(0.001)
        finally:
            if same_stamp:
                clock.unfreeze()
        return ids

    def touch(self, ids: Sequence[str]) -> None:
        self.company.clock.advance(1.0)
        for deal_id in ids:
            self.company.edit_as_user("deal", int(deal_id), {"title": "Offer (edited)"})

    def deleted_changes(self, connector: Any, ids: Sequence[str], since: Checkpoint | None) -> list[Change]:
        self.company.clock.advance(1.0)
        for deal_id in ids:
            self.company.delete("deal", int(deal_id), source="app")
        changes: list[Change] = []
        for page in connector.read_changes(self.stream, since):
            changes += page
        return changes

    def write_items(self, count: int) -> list[WriteItem]:
        items = []
        for _ in range(count):
            n = next(self._numbers)
            items.append(WriteItem(f"k{n}", {"leadbridge_id": f"L-contract{n}", "title": f"Written {n}",
                                             "label": "offered", "status": "open"}))  # fmt: skip
        return items

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        items = self.write_items(3)
        items[1] = WriteItem(items[1].key, {**items[1].fields, "title": ""})  # Pipedrive: title is required
        return self.write_stream, items, 1

    def remote_count(self) -> int:
        return len(self.company.deals_with("leadbridge_id"))

    def fail_next_call_with_429(self, connector: Any, retry_after: int) -> None:
        self.company.limits.fail_next(1, retry_after)

    def expire_session(self) -> None:
        self.company.expire_tokens()

    def allow_calls(self, calls: int) -> None:
        quota = self.company.faults.quota
        quota.hold_at_noon()  # not reset, nor "retry in 40 s", at 23:59 UTC
        quota.set(quota.used + calls)

    def new_field(self) -> FieldSpec:
        return FieldSpec("contract_extra", "Contract Extra", TEXT)

    def signed_delivery(self, ids: Sequence[str]) -> tuple[dict[str, str], bytes, str]:
        """Pipedrive signs nothing: its deliveries carry the subscription's Basic credentials."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        events = [
            {"meta": {"action": "change", "entity": "deal", "entity_id": str(i), "id": str(uuid.uuid4()),
                      "version": "2.0", "timestamp": now, "company_id": str(self.company.company_id),
                      "user_id": str(self.company.user_id), "webhook_id": "1", "change_source": "app",
                      "attempt": 1, "is_bulk_edit": False},
             "data": {"id": int(i), "status": "open"}, "previous": {"status": "open"}}
            for i in ids
        ]  # fmt: skip
        auth = "Basic " + base64.b64encode(f"{HOOK_USER}:{HOOK_PASSWORD}".encode()).decode()
        return {"Authorization": auth, "Content-Type": "application/json"}, json.dumps(events).encode(), ""


@contextmanager
def open_harness(registry: ConnectorRegistry) -> Iterator[PipedriveContractHarness]:
    with Sandbox.plan(partners=1, leads=0, seed=5, services=["pipedrive"]) as box:
        service = box.pipedrive
        yield PipedriveContractHarness(
            registry, service.company("partner-01"), service.base_url("partner-01"), box.ca_file
        )
