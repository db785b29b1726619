"""The webhook kind's contract harness: a local receiver that verifies Standard Webhooks signatures.

The kind is write only (``Capability.WRITE_ONLY``): the suite runs its check and write cases; the
read cases do not apply. Its write-side 429/5xx cases are in ``test_webhook.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from leadbridge.ports import ConnectorRegistry, WriteItem
from tests.connectors.contract import Recorder, build
from tests.connectors.webhook_receiver import Receiver, serve

WRONG_SECRET = "whsec_" + "QUJD" * 8  # valid format, not the receiver's


class WebhookHarness:
    kind = "webhook"
    stream = write_stream = "events"
    page_size = 0

    def __init__(self, registry: ConnectorRegistry, receiver: Receiver) -> None:
        self.registry, self.receiver = registry, receiver
        self.slept: list[float] = []
        self.written = 0

    def _values(self, secret: str) -> dict[str, Any]:
        return {
            "name": "partner_hook",
            "kind": "webhook",
            "role": "partner",
            "url": self.receiver.url,
            "signing_secret": secret,
        }

    def connector(self) -> Any:
        return build(
            self.registry, self._values(self.receiver.secret), Recorder(self.slept, real=False).policy()
        )

    def broken_connector(self) -> Any:
        return build(self.registry, self._values(WRONG_SECRET), Recorder(self.slept, real=False).policy())

    def write_items(self, count: int) -> list[WriteItem]:
        start, self.written = self.written, self.written + count
        return [
            WriteItem(f"evt-{n}", {"type": "offered", "data": {"lead_id": f"L{n}"}})
            for n in range(start, start + count)
        ]

    def with_one_bad_item(self) -> tuple[str, list[WriteItem], int]:
        items = self.write_items(3)
        items[1] = WriteItem(items[1].key, {"type": "offered", "data": {"refuse": True}})
        return self.write_stream, items, 1

    def remote_count(self) -> int:
        return len(self.receiver.ids)


@contextmanager
def open_harness(registry: ConnectorRegistry) -> Iterator[WebhookHarness]:
    with serve() as receiver:
        yield WebhookHarness(registry, receiver)
