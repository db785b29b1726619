"""The demo's webhook partner: an HTTPS endpoint on 127.0.0.1 standing for a partner system leadbridge
has no connector for (``kind: webhook``, docs/webhooks.md).

Rules: every delivery is verified with ``standardwebhooks`` against the connection's secret (a bad
signature is 401, nothing kept) and de-duplicated on ``webhook-id``; the endpoint keeps what the
partner system would: the offers it was sent (``offered``, until ``withdrawn``/``declined``/an
``erased``) and the leads it holds (from ``accepted`` on, until ``returned``/``won``/``lost``). The
simulated partner (``demo/actors.py``) acts only on what arrived here.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

from leadbridge.sandbox.tls import SandboxTLS

CLOSED = frozenset({"returned", "won", "lost", "erased"})


@dataclass
class HookInbox:
    """What one webhook partner's system has been told (module rules)."""

    secret: str = field(default_factory=lambda: "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode())
    ids: set[str] = field(default_factory=set)
    events: list[dict[str, Any]] = field(default_factory=list)
    offers: dict[str, str] = field(default_factory=dict)  # open offer id → its event type
    leads: dict[str, str] = field(default_factory=dict)  # held lead id → "accepted" | "status"
    refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, headers: dict[str, str], body: bytes) -> int:
        """Verify and keep one delivery; the HTTP status to answer."""
        try:
            message = Webhook(self.secret).verify(body, headers)
        except WebhookVerificationError:
            self.refused += 1
            return 401
        with self.lock:
            if headers.get("webhook-id") in self.ids:
                return 204
            self.ids.add(headers.get("webhook-id", ""))
            self.events.append(message)
            self._apply(str(message.get("type", "")).removeprefix("lead."), message.get("data") or {})
        return 204

    def _apply(self, kind: str, data: dict[str, Any]) -> None:
        offer_id, lead_id = data.get("offer_id"), data.get("lead_id")
        if kind == "offered" and offer_id:
            self.offers[offer_id] = kind
        elif kind in ("declined", "withdrawn", "accepted") and offer_id:
            self.offers.pop(offer_id, None)
        if kind in ("accepted", "status") and lead_id:
            self.leads[lead_id] = kind
        elif kind in CLOSED:
            self.leads.pop(lead_id or "", None)
            for known in data.get("offer_ids") or ():
                self.offers.pop(known, None)

    def count(self, kind: str) -> int:
        return sum(1 for event in self.events if event.get("type") == f"lead.{kind}")


class HookServer:
    """One HTTPS endpoint per webhook partner, all on one port: ``/hooks/<connection>``."""

    def __init__(self) -> None:
        self.tls = SandboxTLS()
        self.inboxes: dict[str, HookInbox] = {}
        inboxes = self.inboxes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                inbox = inboxes.get(self.path.rsplit("/", 1)[-1])
                headers = {k.lower(): v for k, v in self.headers.items()}
                status = inbox.take(headers, body) if inbox is not None else 404
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = self.tls.server_context().wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, name="demo-hooks", daemon=True)
        self.thread.start()

    def add(self, connection: str) -> tuple[str, HookInbox]:
        """A new partner endpoint: its URL and what it receives."""
        inbox = self.inboxes.setdefault(connection, HookInbox())
        return f"https://127.0.0.1:{self.server.server_port}/hooks/{connection}", inbox

    @property
    def ca_file(self) -> str:
        return str(self.tls.ca_file)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.tls.cleanup()


def summary(inboxes: dict[str, HookInbox]) -> dict[str, Any]:
    """Per webhook partner: events received by type, deliveries refused (bad signatures)."""
    return {
        name: {
            "events": dict(sorted(Counter(str(e.get("type")) for e in inbox.events).items())),
            "refused": inbox.refused,
        }
        for name, inbox in sorted(inboxes.items())
    }
