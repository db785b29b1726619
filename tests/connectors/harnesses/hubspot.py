"""The contract harness of ``hubspot``: a sandbox portal (manufacturer side), on the wall clock
(connectors come from the registry's factory, which paces searches in real time)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leadbridge.ports import TEXT, Change, Checkpoint, ConnectorRegistry, FieldSpec, WriteItem
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3
from tests.connectors.contract import Recorder, build
from tests.connectors.sandbox_hubspot import add_contacts

HOOK_URL = "https://leadbridge.example.com/webhooks/home"


class HubSpotContractHarness:
    kind = "hubspot"
    stream = "contacts"
    write_stream = "contacts:upsert"
    page_size = 10
    describe_object = "contacts"
    key_field = "hs_object_id"
    missing_id = "987654321"

    def __init__(self, registry: ConnectorRegistry, portal: Portal, url: str, ca_file: Any) -> None:
        self.registry, self.portal, self.url, self.ca_file = registry, portal, url, ca_file
        self.slept: list[float] = []
        self.built: list[Any] = []
        self._written, self._events = itertools.count(1), itertools.count(1)
        self.connector().install_properties()

    def _values(self, **extra: Any) -> dict[str, Any]:
        portal = self.portal
        return {
            "name": "home", "kind": "hubspot", "base_url": self.url, "access_token": portal.access_token,
            "ca_file": str(self.ca_file), "client_secret": portal.client_secret, "app_id": portal.app_id,
            "webhook_url": HOOK_URL, "page_size": self.page_size, **extra,
        }  # fmt: skip

    def connector(self, **extra: Any) -> Any:
        built = build(self.registry, self._values(**extra), Recorder(self.slept, real=True).policy())
        self.built.append(built)
        return built

    def broken_connector(self) -> Any:
        return self.connector(access_token="pat-eu1-wrong")

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        return add_contacts(self.portal, count, same_stamp=same_stamp)

    def touch(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            self.portal.edit_as_user("contacts", record_id, {"jobtitle": "Einkauf (geändert)"})

    def deleted_changes(self, connector: Any, ids: Sequence[str], since: Checkpoint | None) -> list[Change]:
        """HubSpot search never returns archived records: deletions arrive by webhook only."""
        store = self.portal.store("contacts")
        for record_id in ids:
            self.portal.archive("contacts", store.get(record_id))
        headers, body, uri = self._delivery(ids, "contact.deletion")
        return list(connector.parse_webhook(headers, body, uri))

    def write_items(self, count: int) -> list[WriteItem]:
        items = []
        for _ in range(count):
            n = next(self._written)
            fields = {"leadbridge_id": f"L-contract{n}", "lastname": f"Written{n}", "company": "Written GmbH"}
            items.append(WriteItem(f"k{n}", fields))
        return items

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        ids = self.add_records(3, same_stamp=False)
        items = [
            WriteItem("good", {"leadbridge_status": "accepted"}, ids[0]),
            WriteItem("bad", {"lead_score": "not a number"}, ids[1]),
            WriteItem("also-good", {"leadbridge_status": "accepted"}, ids[2]),
        ]
        return "contacts", items, 1

    def remote_count(self) -> int:
        return sum(1 for r in self.portal.store("contacts").live() if r.properties.get("leadbridge_id"))

    def fail_next_call_with_429(self, connector: Any, retry_after: int) -> None:
        """Someone else used this second's search budget: the next search gets a 429."""
        self.portal.limits.configure(retry_after=retry_after)
        for _ in range(self.portal.limits.search_per_second):
            self.portal.limits.admit(search=True)

    def expire_session(self) -> None:
        """The connectors' tokens are no longer valid; the configured token is the current one."""
        for built in self.built:
            built.client.token, built.client._apis = "pat-eu1-expired", None

    def allow_calls(self, calls: int) -> None:
        quota = self.portal.faults.quota
        quota.hold_at_noon()  # not reset, nor "retry in 40 s", at 23:59 UTC
        self.portal.limits.configure(daily=quota.used + calls)

    def new_field(self) -> FieldSpec:
        return FieldSpec("contract_extra", "Contract Extra", TEXT)

    def signed_delivery(self, ids: Sequence[str]) -> tuple[dict[str, str], bytes, str]:
        return self._delivery(ids, "contact.creation")

    def _delivery(self, ids: Sequence[str], subscription: str) -> tuple[dict[str, str], bytes, str]:
        now = int(time.time() * 1000)
        events = [
            {"eventId": next(self._events), "subscriptionType": subscription, "objectId": int(i),
             "occurredAt": now, "portalId": 1, "changeSource": "CRM_UI"}
            for i in ids
        ]  # fmt: skip
        body = json.dumps(events).encode()
        signature = sign_v3(self.portal.client_secret, "POST", HOOK_URL, body, now)
        return {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: str(now)}, body, HOOK_URL


@contextmanager
def open_harness(registry: ConnectorRegistry) -> Iterator[HubSpotContractHarness]:
    with Sandbox.plan(partners=0, leads=0, seed=3, services=["hubspot"]) as box:
        service = box.hubspot
        yield HubSpotContractHarness(
            registry, service.portal("manufacturer"), service.base_url(), box.ca_file
        )
