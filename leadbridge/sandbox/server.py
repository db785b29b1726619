"""A small HTTPS server for the sandboxes: keep-alive HTTP/1.1, a regex router, JSON helpers.

The interface a stand-in uses:

* an *app* is any callable ``app(request: Request) -> Response``;
* ``Router`` maps ``(method, regex path)`` to a named handler; ``router.resolve()`` returns the
  ``RouteMatch`` (endpoint name for counters/faults, handler, path groups) or raises ``NoRoute``;
* ``HTTPSServer(app, tls_context).start()`` serves it on ``127.0.0.1`` (port 0 → ephemeral) in a
  background thread; ``.url`` is ``https://127.0.0.1:PORT``; ``.stop()`` closes the listener and
  every open connection;
* raising ``DropConnection`` from an app closes the socket without an answer (a dropped
  connection as the client sees it).

Connections are kept alive (HTTP/1.1) because clients reuse them: a TLS handshake per request
would dominate any benchmark. The TLS handshake runs in the connection's own thread, so a slow
client never blocks ``accept``.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import formatdate
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    """One parsed HTTP request as an app sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    client: tuple[str, int] = ("127.0.0.1", 0)
    params: dict[str, str] = field(default_factory=dict)  # named groups of the matched route
    context: dict[str, Any] = field(default_factory=dict)  # what the service learned (e.g. the user)

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name`` (or ``default``)."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        """A request header, case-insensitively."""
        value = self.headers.get(name)
        return default if value is None else str(value)

    def json(self) -> Any:
        """The body parsed as JSON; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded`` (first value per key)."""
        return {
            key: values[0] for key, values in parse_qs(self.body.decode(), keep_blank_values=True).items()
        }


@dataclass
class Response:
    """What an app answers: status, body bytes and headers (Content-Length is added for you)."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    def with_header(self, name: str, value: str) -> Response:
        """Add a header and return self (for chaining)."""
        self.headers.append((name, value))
        return self


def json_response(data: Any, status: int = 200, headers: Iterable[tuple[str, str]] = ()) -> Response:
    """A JSON response (UTF-8, compact)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    return Response(status, body, [("Content-Type", "application/json;charset=UTF-8"), *headers])


def text_response(text: str, status: int = 200, content_type: str = "text/plain;charset=UTF-8") -> Response:
    """A text (or XML) response."""
    return Response(status, text.encode(), [("Content-Type", content_type)])


def empty_response(status: int = 204) -> Response:
    """A response without a body (204 No Content by default)."""
    return Response(status)


class DropConnection(Exception):
    """Raised by an app to close the connection without answering."""


class NoRoute(Exception):
    """No route matched; ``allowed`` lists methods that would have matched the path (405)."""

    def __init__(self, allowed: list[str]) -> None:
        super().__init__(", ".join(allowed))
        self.allowed = allowed


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    endpoint: str
    handler: Handler


@dataclass(frozen=True)
class RouteMatch:
    """A resolved route: the endpoint name (what counters and faults key on) and the handler."""

    endpoint: str
    handler: Handler
    params: dict[str, str]


class Router:
    """Method + full-match regex path → named handler. First added route wins."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, pattern: str, endpoint: str, handler: Handler) -> None:
        """Route ``method`` requests whose whole path matches ``pattern`` to ``handler``."""
        self._routes.append(Route(method.upper(), re.compile(pattern), endpoint, handler))

    def route(self, method: str, pattern: str, endpoint: str) -> Callable[[Handler], Handler]:
        """Decorator form of ``add``."""

        def decorate(handler: Handler) -> Handler:
            self.add(method, pattern, endpoint, handler)
            return handler

        return decorate

    def resolve(self, method: str, path: str) -> RouteMatch:
        """The first route matching method and path; ``NoRoute`` (with allowed methods) otherwise."""
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method == method.upper():
                params = {key: value for key, value in match.groupdict().items() if value is not None}
                return RouteMatch(route.endpoint, route.handler, params)
            allowed.append(route.method)
        raise NoRoute(allowed)


App = Callable[[Request], Response]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # small responses on a kept-alive socket: no 40 ms Nagle stalls
    timeout = 300  # idle keep-alive connections end after 5 minutes
    server: _ThreadingServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging (the sandboxes count requests instead)."""

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=self._read_body(),
            client=self.client_address,
        )
        try:
            response = self.server.app(request)
        except DropConnection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        except Exception as error:  # a bug in a stand-in: answer 500 and say so, keep serving
            traceback.print_exc(file=sys.stderr)
            response = json_response({"error": "sandbox internal error", "detail": repr(error)}, 500)
        self._write(response)

    def _write(self, response: Response) -> None:
        # One write per response: status line, headers and body go out in a single TLS record.
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {response.status} {phrase}", f"Date: {formatdate(usegmt=True)}"]
        lines += [f"{name}: {value}" for name, value in response.headers]
        body = b"" if self.command == "HEAD" else response.body
        lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _ThreadingServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128  # the stdlib's 5 makes bursts of new connections wait for SYN retries

    def __init__(self, app: App, context: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.app = app
        self.context = context
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """Handshake in this connection's thread, then serve it until the client closes it."""
        try:
            if self.context is not None:
                request.settimeout(10)
                request = self.context.wrap_socket(request, server_side=True)
            with self._open_lock:
                self._open.add(request)
            self.finish_request(request, client_address)
        except (OSError, ssl.SSLError):
            pass  # client went away or failed the handshake: nothing to answer
        finally:
            with self._open_lock:
                self._open.discard(request)
            self.shutdown_request(request)

    def close_all(self) -> None:
        """Close every open client connection (used by stop())."""
        with self._open_lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class HTTPSServer:
    """One listening socket on 127.0.0.1 serving ``app`` from a background thread.

    ``context=None`` serves plain HTTP (only for in-process unit tests; the sandboxes use TLS).
    """

    def __init__(self, app: App, context: ssl.SSLContext | None, *, name: str = "sandbox") -> None:
        self._server = _ThreadingServer(app, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        self.scheme = "https" if context is not None else "http"

    @property
    def port(self) -> int:
        """The listening port (ephemeral, chosen at bind time)."""
        return int(self._server.server_address[1])

    @property
    def netloc(self) -> str:
        """``127.0.0.1:PORT``."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (no trailing slash)."""
        return f"{self.scheme}://{self.netloc}"

    def start(self) -> HTTPSServer:
        """Start serving in the background; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close the listener and every open connection."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self._server.close_all()


def stop_all(servers: Iterable[HTTPSServer]) -> None:
    """Stop several servers at once (each stop waits up to one poll interval; in parallel, once)."""
    threads = [threading.Thread(target=server.stop, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
