"""What a connector kind's test harness provides to the shared contract suite (``test_contract.py``).

A harness is found by kind name: ``tests/connectors/harnesses/<kind>.py`` exports
``open_harness(registry)``, a context manager yielding a ``Harness`` on a fresh sandbox. Connectors
are built through the registry (the kind's factory and settings model), with a retry policy that
records its waits instead of hiding them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import Settings
from leadbridge.ports import Change, Checkpoint, Connector, ConnectorRegistry, FieldSpec, WriteItem, advance


class Harness(Protocol):
    kind: str
    stream: str  # what ``read_changes`` reads
    write_stream: str  # where ``write_items`` go (create or upsert)
    page_size: int  # records per page the harness's connectors read
    describe_object: str  # the object ``describe`` is asked about
    key_field: str  # a field that object has
    missing_id: str  # an id no record of that object has
    slept: list[float]  # every wait the harness's retry policies took, in order

    def connector(self) -> Connector:
        """A connector with good settings, built through the registry."""

    def broken_connector(self) -> Connector:
        """A connector with a wrong secret."""

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        """Create ``count`` readable records remotely (optionally all with one stamp); their ids."""

    def touch(self, ids: Sequence[str]) -> None:
        """Change these records remotely so their stamps move forward."""

    def deleted_changes(
        self, connector: Connector, ids: Sequence[str], since: Checkpoint | None
    ) -> list[Change]:
        """Delete ``ids`` remotely; the changes the connector then reports (by reading from
        ``since``, or by the vendor's webhook where deletions only arrive that way)."""

    def write_items(self, count: int) -> list[WriteItem]:
        """Items for ``write_stream`` that create ``count`` records the first time."""

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        """A stream, items for it, and the index of the one item the remote refuses."""

    def remote_count(self) -> int:
        """How many records ``write_stream`` has remotely."""

    def fail_next_call_with_429(self, connector: Connector, retry_after: int) -> None: ...

    def expire_session(self) -> None: ...

    def allow_calls(self, calls: int) -> None:
        """Let only ``calls`` more API calls pass today (then the quota is exhausted)."""

    def new_field(self) -> FieldSpec:
        """A field ``describe_object`` lacks."""

    def signed_delivery(self, ids: Sequence[str]) -> tuple[dict[str, str], bytes, str]:
        """Headers, body and URL of a delivery announcing changes of ``ids`` (``WEBHOOKS`` kinds)."""


OpenHarness = Callable[[ConnectorRegistry], AbstractContextManager[Harness]]


def harness_for(kind: str) -> OpenHarness | None:
    """The harness opener of ``kind`` (``harnesses/<kind>.py``), ``None`` when there is none."""
    name = f"tests.connectors.harnesses.{kind}"
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name == name:
            return None
        raise
    opener: OpenHarness = module.open_harness
    return opener


class Recorder:
    """A retry policy's ``sleep`` that records each wait (and really waits when ``real``: a sandbox
    whose limits run on the wall clock needs the time to pass)."""

    def __init__(self, slept: list[float], *, real: bool) -> None:
        self.slept, self.real = slept, real

    def __call__(self, seconds: float) -> None:
        import time

        self.slept.append(seconds)
        if self.real:
            time.sleep(seconds)

    def policy(self) -> RetryPolicy:
        return RetryPolicy(max_attempts=5, max_seconds=120, sleep=self)


def build(registry: ConnectorRegistry, values: Mapping[str, Any], retry: RetryPolicy) -> Any:
    """A connector for one connection's settings, through the registry like the runtime builds it."""
    config = registry.connection(values)
    connector = registry.connector(Settings(connections={config.name: config}), config.name, retry=retry)
    assert connector is not None, f"kind {config.kind} has no factory"
    return connector


def read_all(connector: Any, stream: str, since: Checkpoint | None) -> tuple[list[Change], Checkpoint | None]:
    taken: list[Change] = []
    for page in connector.read_changes(stream, since):
        taken += page
        since = advance(since, page, connector.lookback)
    return taken, since


def pages_of(connector: Any, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
    yield from connector.read_changes(stream, since)
