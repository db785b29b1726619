"""A tiny CRM for the toy connector: one object (``items``) over plain HTTP on loopback.

``POST /login`` → token; ``GET /items?from=STAMP&after=ID&limit=N`` → records (tombstones too) in
``(stamp, id)`` order with ``stamp >= from``; ``POST /items/batch`` → one result per input (a record
without ``name`` is refused); ``GET /items/{id}``; ``GET /schema``, ``POST /schema``. Faults: a 429
with Retry-After, expired tokens (401 ``SESSION_EXPIRED``), a daily quota (403 ``QUOTA``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_KEY, WEBHOOK_SECRET = "toy-key-1", "toy-hook-secret"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class ToyCrm:
    """The server's state and faults; ``url`` once started."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.fields = {"id": "text", "name": "text", "ext_key": "text", "score": "number"}
        self.tokens: set[str] = set()
        self.quota: int | None = None  # API calls left (None: unlimited)
        self.pending_429: float | None = None
        self.frozen: datetime | None = None
        self._ids, self._tokens = itertools.count(1), itertools.count(1)
        self._lock = threading.Lock()
        self._tick = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def now(self) -> str:
        if self.frozen is not None:
            return _stamp(self.frozen)
        self._tick += timedelta(milliseconds=3)  # every change gets a later millisecond
        return _stamp(self._tick)

    # -- what people (not the API) do ----------------------------------------------------------
    def create(self, fields: dict[str, Any]) -> str:
        with self._lock:
            record_id = f"t{next(self._ids):05d}"
            self.records[record_id] = {"id": record_id, **fields, "stamp": self.now(), "deleted": False}
            return record_id

    def edit(self, record_id: str, fields: dict[str, Any]) -> None:
        with self._lock:
            self.records[record_id].update(fields, stamp=self.now())

    def delete(self, record_id: str) -> None:
        with self._lock:
            self.records[record_id].update(deleted=True, stamp=self.now())

    def signed(
        self, events: list[dict[str, Any]], secret: str = WEBHOOK_SECRET
    ) -> tuple[dict[str, str], bytes]:
        body = json.dumps(events).encode()
        return {"X-Toy-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()}, body

    # -- the API --------------------------------------------------------------------------------
    def answer(
        self, method: str, path: str, query: dict[str, str], token: str, body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/login":
            if (body or {}).get("api_key") != API_KEY:
                return 401, {"code": "INVALID_KEY", "message": "unknown API key"}, {}
            token = f"tok{next(self._tokens)}"
            self.tokens.add(token)
            return 200, {"token": token}, {}
        if token not in self.tokens:
            return 401, {"code": "SESSION_EXPIRED", "message": "log in again"}, {}
        if self.pending_429 is not None:
            wait, self.pending_429 = self.pending_429, None
            return 429, {"code": "RATE_LIMIT", "message": "slow down"}, {"Retry-After": f"{wait:g}"}
        if self.quota is not None:
            if self.quota <= 0:
                return 403, {"code": "QUOTA", "message": "daily API calls used up"}, {}
            self.quota -= 1
        with self._lock:
            return self._route(method, path, query, body)

    def _route(
        self, method: str, path: str, query: dict[str, str], body: Any
    ) -> tuple[int, Any, dict[str, str]]:
        if path == "/schema":
            if method == "POST":
                self.fields[str(body["name"])] = str(body["type"])
                return 201, {}, {}
            return 200, {"fields": self.fields}, {}
        if path == "/items" and method == "GET":
            start, after, limit = query.get("from", ""), query.get("after", ""), int(query.get("limit", "50"))
            rows = sorted(
                (
                    r
                    for r in self.records.values()
                    if r["stamp"] >= start and (r["stamp"], r["id"]) > (start, after)
                ),
                key=lambda r: (r["stamp"], r["id"]),
            )
            return 200, {"items": rows[:limit], "more": len(rows) > limit}, {}
        if path == "/items/batch" and method == "POST":
            return 200, {"results": [self._write(item) for item in body["items"]]}, {}
        if path.startswith("/items/") and method == "GET":
            found = self.records.get(path.rsplit("/", 1)[1])
            if found is None or found["deleted"]:
                return 404, {"code": "NOT_FOUND", "message": "no such item"}, {}
            return 200, found, {}
        return 404, {"code": "NO_ROUTE", "message": path}, {}

    def _write(self, item: dict[str, Any]) -> dict[str, Any]:
        fields = dict(item["fields"])
        unknown = [name for name in fields if name not in self.fields]
        if unknown or not fields.get("name"):
            problem = f"unknown field {unknown[0]}" if unknown else "name is required"
            return {"ok": False, "code": "INVALID", "message": problem}
        existing = next((r for r in self.records.values() if r.get("ext_key") == fields.get("ext_key")), None)
        if existing is not None:
            existing.update(fields, stamp=self.now())
            return {"ok": True, "id": existing["id"], "created": False}
        record_id = f"t{next(self._ids):05d}"
        self.records[record_id] = {"id": record_id, **fields, "stamp": self.now(), "deleted": False}
        return {"ok": True, "id": record_id, "created": True}


def _handler(crm: ToyCrm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
            status, data, headers = crm.answer(method, parts.path, query, token, body)
            payload = json.dumps(data).encode()
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler
