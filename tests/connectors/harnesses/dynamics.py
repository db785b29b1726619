"""The contract harness of ``dynamics``: a sandbox Dataverse environment (manufacturer side),
reached by the real client (MSAL + requests)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leadbridge.ports import TEXT, Change, Checkpoint, ConnectorRegistry, FieldSpec, WriteItem
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.dynamics.org import DataverseOrg
from tests.connectors.contract import Recorder, build, read_all
from tests.connectors.sandbox_dynamics import add_leads, org_values


class DynamicsContractHarness:
    kind = "dynamics"
    stream = "lead"
    write_stream = "lead:upsert"
    page_size = 10
    describe_object = "lead"
    key_field = "leadid"
    missing_id = "00000000-0000-0000-0000-00000000dead"

    def __init__(self, registry: ConnectorRegistry, org: DataverseOrg, ca_file: Any) -> None:
        self.registry, self.org, self.ca_file = registry, org, ca_file
        self.slept: list[float] = []
        self._written = itertools.count(1)

    def _values(self, **extra: Any) -> dict[str, Any]:
        return org_values(self.org, self.ca_file, name="home", page_size=self.page_size, **extra)

    def connector(self) -> Any:
        return build(self.registry, self._values(), Recorder(self.slept, real=False).policy())

    def broken_connector(self) -> Any:
        return build(
            self.registry, self._values(client_secret="wrong"), Recorder(self.slept, real=False).policy()
        )

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        return add_leads(self.org, count, same_stamp=same_stamp)

    def touch(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            self.org.update("leads", record_id, {"jobtitle": "Einkauf (geändert)"})

    def deleted_changes(self, connector: Any, ids: Sequence[str], since: Checkpoint | None) -> list[Change]:
        for record_id in ids:
            self.org.delete("leads", record_id)
        return read_all(connector, self.stream, since)[0]  # change tracking reports them

    def write_items(self, count: int) -> list[WriteItem]:
        items = []
        for _ in range(count):
            n = next(self._written)
            fields = {
                "new_leadbridgeid": f"L-contract{n}",
                "lastname": f"Written{n}",
                "companyname": "Written GmbH",
            }
            items.append(WriteItem(f"k{n}", fields))
        return items

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        items = self.write_items(3)
        bad = dict(items[1].fields, lastname="x" * 51)  # lastname holds 50 characters
        items[1] = WriteItem(items[1].key, bad)
        return self.write_stream, items, 1

    def remote_count(self) -> int:
        return sum(1 for row in self.org.records("leads") if row.get("new_leadbridgeid"))

    def fail_next_call_with_429(self, connector: Any, retry_after: int) -> None:
        self.org.throttle_next(1, retry_after=retry_after)

    def expire_session(self) -> None:
        self.org.faults.expire_session_after(0)

    def allow_calls(self, calls: int) -> None:
        quota = self.org.faults.quota
        quota.hold_at_noon()  # not reset, nor "retry in 40 s", at 23:59 UTC
        quota.set(quota.used + calls)

    def new_field(self) -> FieldSpec:
        return FieldSpec("new_contractextra", "Contract Extra", TEXT)

    def signed_delivery(self, ids: Sequence[str]) -> tuple[dict[str, str], bytes, str]:
        raise AssertionError("dynamics connections do not receive webhooks (no Capability.WEBHOOKS)")


@contextmanager
def open_harness(registry: ConnectorRegistry) -> Iterator[DynamicsContractHarness]:
    with Sandbox.plan(partners=0, leads=0, seed=3, services=["dynamics"]) as box:
        yield DynamicsContractHarness(registry, box.dynamics.org("manufacturer"), box.ca_file)
