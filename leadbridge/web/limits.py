"""Bounded request bodies and an API that authenticates before it reads a byte of the body.

Rules:
- every request body has a ceiling by area (``Settings``: ``max_body_api`` 1 MB for ``/api``,
  ``max_body_webhooks`` 256 KB for ``/webhooks``, ``max_body_pages`` 256 KB for everything else); a
  ``Content-Length`` above it is answered 413 before the body is read, and a body that turns out
  longer while streaming (chunked, or a lying header) stops at the ceiling with 413 — at most
  ceiling + one chunk is ever held;
- ``/api/v1/…`` checks the bearer API key first (``ApiKeyGate``): an anonymous or revoked key is
  401 before the body is read or parsed; the key found travels in ``scope["state"]["api_key"]``, so
  the route dependencies (``web/deps.py``) do not look it up again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import anyio
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.web.accounts import api_key_for

API_PREFIX = "/api/v1/"


@dataclass(frozen=True)
class ApiKeyInfo:
    """The facts of a valid API key the routes need (no ORM object crosses threads)."""

    id: str
    partner_id: str | None
    name: str


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its ceiling. An ``HTTPException``, so
    the framework's body parsing lets it through (anything else it turns into 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body too large (limit {limit} bytes)")


Headers = list[tuple[bytes, bytes]]


async def _send_json(send: Send, status: int, body: Mapping[str, object], headers: Headers) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def body_limit(settings: Settings, path: str) -> int:
    """The body ceiling (bytes) for a request to ``path`` (module rules)."""
    if path.startswith("/api/"):
        return settings.max_body_api
    if path.startswith("/webhooks/"):
        return settings.max_body_webhooks
    return settings.max_body_pages


class BodyLimitMiddleware:
    """Answers 413 for a body over its area's ceiling, without reading more of it."""

    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.settings, scope["path"])
        too_large = {"detail": f"request body too large (limit {limit} bytes)", "error": "body_too_large"}
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _send_json(send, 413, too_large, [(b"connection", b"close")])
            return
        seen = 0
        started = False

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _send_json(send, 413, too_large, [(b"connection", b"close")])


class ApiKeyGate:
    """Refuses ``/api/v1/…`` without a valid bearer key (401) before the body is touched."""

    def __init__(self, app: ASGIApp, *, database: Database) -> None:
        self.app, self.database = app, database

    def _lookup(self, raw: str) -> ApiKeyInfo | None:
        with self.database.transaction() as session:
            row = api_key_for(session, raw)
            return ApiKeyInfo(row.id, row.partner_id, row.name) if row is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
        scheme, _, value = header.partition(" ")
        raw = value.strip() if scheme.lower() == "bearer" else ""
        info = await anyio.to_thread.run_sync(self._lookup, raw) if raw and raw.isascii() else None
        if info is None:
            await _send_json(
                send,
                401,
                {"detail": "a valid API key is required", "error": "unauthenticated"},
                [(b"www-authenticate", b"Bearer")],
            )
            return
        scope.setdefault("state", {})["api_key"] = info
        await self.app(scope, receive, send)
