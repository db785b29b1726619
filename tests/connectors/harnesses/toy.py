"""The contract harness of ``toy`` (the test-only kind): its own tiny server per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from leadbridge.ports import NUMBER, Change, Checkpoint, ConnectorRegistry, FieldSpec, WriteItem
from tests.connectors.contract import Recorder, build, read_all
from tests.connectors.extra_kinds.toy.server import API_KEY, WEBHOOK_SECRET, ToyCrm


class ToyHarness:
    kind = "toy"
    stream = "items"
    write_stream = "items"
    page_size = 7
    describe_object = "items"
    key_field = "id"
    missing_id = "t99999"

    def __init__(self, registry: ConnectorRegistry, crm: ToyCrm) -> None:
        self.registry, self.crm = registry, crm
        self.slept: list[float] = []
        self._written, self._events = itertools.count(1), itertools.count(1)

    def _values(self, **extra: Any) -> dict[str, Any]:
        return {"name": "toy", "kind": "toy", "base_url": self.crm.url, "api_key": API_KEY,
                "webhook_secret": WEBHOOK_SECRET, "page_size": self.page_size, **extra}  # fmt: skip

    def connector(self) -> Any:
        return build(self.registry, self._values(), Recorder(self.slept, real=False).policy())

    def broken_connector(self) -> Any:
        return build(self.registry, self._values(api_key="wrong"), Recorder(self.slept, real=False).policy())

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        if same_stamp:
            self.crm.frozen = self.crm._tick
        try:
            return [self.crm.create({"name": f"Item {n}"}) for n in range(count)]
        finally:
            self.crm.frozen = None

    def touch(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            self.crm.edit(record_id, {"name": "changed"})

    def deleted_changes(self, connector: Any, ids: Sequence[str], since: Checkpoint | None) -> list[Change]:
        for record_id in ids:
            self.crm.delete(record_id)
        return read_all(connector, self.stream, since)[0]

    def write_items(self, count: int) -> list[WriteItem]:
        return [
            WriteItem(f"k{n}", {"ext_key": f"L-{n}", "name": f"Written {n}"})
            for n in (next(self._written) for _ in range(count))
        ]

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        items = self.write_items(3)
        items[2] = WriteItem(items[2].key, {"ext_key": "L-bad"})  # no name: refused
        return self.write_stream, items, 2

    def remote_count(self) -> int:
        return sum(1 for r in self.crm.records.values() if r.get("ext_key"))

    def fail_next_call_with_429(self, connector: Any, retry_after: int) -> None:
        self.crm.pending_429 = float(retry_after)

    def expire_session(self) -> None:
        self.crm.tokens.clear()

    def allow_calls(self, calls: int) -> None:
        self.crm.quota = calls

    def new_field(self) -> FieldSpec:
        return FieldSpec("rating", "Rating", NUMBER)

    def signed_delivery(self, ids: Sequence[str]) -> tuple[dict[str, str], bytes, str]:
        events = [{"event_id": f"e{next(self._events)}", **self.crm.records[i]} for i in ids]
        headers, body = self.crm.signed(events)
        return headers, body, self.crm.url


@contextmanager
def open_harness(registry: ConnectorRegistry) -> Iterator[ToyHarness]:
    crm = ToyCrm()
    try:
        yield ToyHarness(registry, crm)
    finally:
        crm.close()
