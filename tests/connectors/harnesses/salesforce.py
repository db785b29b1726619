"""The contract harness of ``salesforce``: a sandbox org (manufacturer side)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leadbridge.ports import TEXT, Change, Checkpoint, ConnectorRegistry, FieldSpec, WriteItem
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from tests.connectors.contract import Recorder, build, read_all
from tests.connectors.sandbox_salesforce import Fail429Once, add_leads, update_lead


class SalesforceContractHarness:
    kind = "salesforce"
    stream = "Lead"
    write_stream = "Lead:upsert"
    page_size = 200
    describe_object = "Lead"
    key_field = "Id"
    missing_id = "00Q5g00000ZZZZZAAA"

    def __init__(self, registry: ConnectorRegistry, org: SalesforceOrg, ca_file: Any) -> None:
        self.registry, self.org, self.ca_file = registry, org, ca_file
        self.slept: list[float] = []
        self._written = itertools.count(1)

    def _values(self, **extra: Any) -> dict[str, Any]:
        org = self.org
        return {
            "name": "home", "kind": "salesforce", "auth": "password", "username": org.username,
            "password": org.password, "security_token": org.security_token,
            "instance_url": org.instance_url, "login_url": org.instance_url, "ca_file": str(self.ca_file),
            "page_size": self.page_size, **extra,
        }  # fmt: skip

    def connector(self) -> Any:
        return build(self.registry, self._values(), Recorder(self.slept, real=False).policy())

    def broken_connector(self) -> Any:
        return build(self.registry, self._values(password="wrong"), Recorder(self.slept, real=False).policy())

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        return add_leads(self.org, count, same_stamp=same_stamp)

    def touch(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            update_lead(self.org, record_id, {"Title": "Einkauf (geändert)"})

    def deleted_changes(self, connector: Any, ids: Sequence[str], since: Checkpoint | None) -> list[Change]:
        for record_id in ids:
            self.org.store.delete(self.org.store.object("Lead"), record_id)
        return read_all(connector, self.stream, since)[0]  # queryAll reads the recycle bin

    def write_items(self, count: int) -> list[WriteItem]:
        items = []
        for _ in range(count):
            n = next(self._written)
            fields = {
                "LeadBridge_Id__c": f"L-contract{n}",
                "LastName": f"Written{n}",
                "Company": "Written GmbH",
            }
            items.append(WriteItem(f"k{n}", fields))
        return items

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        items = self.write_items(3)
        items[1] = WriteItem(
            items[1].key, {"LeadBridge_Id__c": "L-contract-bad", "Company": "C"}
        )  # no LastName
        return self.write_stream, items, 1

    def remote_count(self) -> int:
        return sum(1 for r in self.org.records("Lead") if r.get("LeadBridge_Id__c"))

    def fail_next_call_with_429(self, connector: Any, retry_after: int) -> None:
        connector.client.session.mount(f"{self.org.instance_url}/", Fail429Once(retry_after))

    def expire_session(self) -> None:
        self.org.faults.expire_session_after(0)

    def allow_calls(self, calls: int) -> None:
        quota = self.org.faults.quota
        quota.set(quota.used + calls)

    def new_field(self) -> FieldSpec:
        return FieldSpec("Contract_Extra__c", "Contract Extra", TEXT)

    def signed_delivery(self, ids: Sequence[str]) -> tuple[dict[str, str], bytes, str]:
        raise AssertionError("salesforce connections do not receive webhooks (no Capability.WEBHOOKS)")


@contextmanager
def open_harness(registry: ConnectorRegistry) -> Iterator[SalesforceContractHarness]:
    with Sandbox.plan(partners=0, leads=0, seed=3, services=["salesforce"]) as box:
        yield SalesforceContractHarness(registry, box.salesforce.org("manufacturer"), box.ca_file)
