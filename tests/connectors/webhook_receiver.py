"""A partner's webhook endpoint on 127.0.0.1 for the tests: verifies each delivery independently with
``standardwebhooks.Webhook(secret).verify`` and answers what the test scripted."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # test-only, from the spec's examples


@dataclass
class Receiver:
    url: str
    secret: str = SECRET
    verified: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)  # (headers, body)
    ids: set[str] = field(default_factory=set)  # webhook-ids taken in (redeliveries dedupe)
    hits: int = 0
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # next answers (status, headers)

    def answer(self, status: int, **headers: str) -> None:
        self.script.append((status, headers))


@contextmanager
def serve(tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    """A running receiver; deliveries it verifies land in ``verified`` (2xx), a bad signature is 401,
    an event whose data says ``"refuse": true`` is 400. With ``tls`` (a server context) it speaks
    HTTPS and its url is ``https://``."""
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.hits += 1
            if state.script:
                status, extra = state.script.pop(0)
                return self._answer(status, extra)
            try:
                payload = Webhook(state.secret).verify(body, headers)
            except WebhookVerificationError:
                return self._answer(401, {}, b"bad signature")
            if payload.get("data", {}).get("refuse"):
                return self._answer(400, {}, b"unknown lead reference")
            if headers["webhook-id"] not in state.ids:
                state.ids.add(headers["webhook-id"])
                state.verified.append((headers, payload))
            self._answer(204, {})

        def _answer(self, status: int, headers: dict[str, str], text: bytes = b"") -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    state = Receiver(f"{scheme}://127.0.0.1:{server.server_port}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def event_bodies(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(json.dumps(body)) for _, body in receiver.verified]
