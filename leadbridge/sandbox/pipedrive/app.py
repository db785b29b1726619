"""The HTTP pipeline of one company: route → count → authenticate → faults → limits → handler.

Routes (``{P1}`` = ``/api/v1`` or ``/v1``, ``{P2}`` = ``/api/v2``): ``POST /oauth/token``;
``{P1}/users/me``; ``{P1}/dealFields`` (POST), ``{P1}/dealFields/{id}`` (PUT options: the label
set); ``{P1}/webhooks`` (GET, POST, DELETE ``/{id}``); ``{P2}/deals`` (list with cursor,
``updated_since`` ≥, ``status`` list, create), ``{P2}/deals/{id}`` (GET, PATCH, DELETE),
``{P2}/deals/search``; ``{P2}/persons`` and ``{P2}/organizations`` (create, GET / PATCH by id),
``{P2}/persons/search``; ``{P2}/dealFields``.

Authentication: ``x-api-token`` header, ``?api_token=`` or ``Authorization: Bearer`` (an OAuth
access token from ``/oauth/token``). v2 bodies must be JSON objects; values are checked as v2 does
(numbers are numbers, booleans are booleans, unknown keys and labels are refused). Injected error
kinds: ``server_error`` 500, ``bad_gateway`` 502 (an HTML page, not JSON), ``unavailable`` 503,
``rate_limit`` 429.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any

from leadbridge.sandbox.faults import apply_transport_faults
from leadbridge.sandbox.pipedrive.company import STANDARD_DEAL_FIELDS, ApiError, Company
from leadbridge.sandbox.pipedrive.wire import decode_cursor, encode_cursor, error, ok, render
from leadbridge.sandbox.server import App, NoRoute, Request, Response, Router, json_response, text_response

P1 = r"(?:/api)?/v1"
P2 = r"/api/v2"
ID = r"(?P<id>\d+)"
LABEL_FIELD_ID = 12_400
MAX_LIMIT = 500
DEAL_KEYS = {"title", "value", "currency", "status", "lost_reason", "person_id", "org_id", "pipeline_id",
             "stage_id", "label_ids", "custom_fields", "owner_id", "expected_close_date", "probability",
             "visible_to"}  # fmt: skip
PERSON_KEYS = {"name", "emails", "phones", "org_id", "owner_id", "visible_to", "label_ids", "custom_fields"}
ORG_KEYS = {"name", "address", "owner_id", "visible_to", "label_ids", "custom_fields"}


def _v2_body(request: Request, allowed: set[str]) -> dict[str, Any]:
    if "json" not in (request.header("Content-Type") or ""):
        raise ApiError(415, "Unsupported Media Type: API v2 accepts JSON bodies only")
    try:
        body = request.json()
    except ValueError:
        raise ApiError(400, "Invalid JSON body") from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"Validation failed: unknown field(s) {', '.join(unknown)}")
    return body


def _number(value: Any, name: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ApiError(400, f"Validation failed: {name}: Parameter '{name}' must be a number")


class Handlers:
    """The route handlers of one company."""

    def __init__(self, company: Company) -> None:
        self.c = company

    # -- checks ----------------------------------------------------------------------------
    def _ref(self, kind: str, value: Any, name: str) -> None:
        if value is None:
            return
        _number(value, name)
        if int(value) not in self.c.table(kind) or self.c.table(kind)[int(value)].get("is_deleted"):
            raise ApiError(400, f"Validation failed: {name}: {kind} {value} does not exist")

    def _custom(self, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise ApiError(400, "Validation failed: custom_fields must be an object")
        for key, value in values.items():
            definition = self.c.custom_fields.get(key)
            if definition is None:
                raise ApiError(400, f"Validation failed: custom_fields: unknown field {key}")
            if (
                value is not None
                and definition["field_type"] in ("varchar", "text")
                and not isinstance(value, str)
            ):
                raise ApiError(400, f"Validation failed: custom_fields.{key} must be a string")
        return values

    def _deal(self, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
        if create and not (isinstance(body.get("title"), str) and body["title"].strip()):
            raise ApiError(400, "Validation failed: title: Parameter 'title' is required")
        _number(body.get("value"), "value")
        if "status" in body and body["status"] not in ("open", "won", "lost"):
            raise ApiError(400, "Validation failed: status: must be one of open, won, lost")
        self._ref("person", body.get("person_id"), "person_id")
        self._ref("organization", body.get("org_id"), "org_id")
        if "label_ids" in body:
            labels = body["label_ids"]
            known = {label["id"] for label in self.c.labels}
            if not isinstance(labels, list) or any(isinstance(i, bool) or i not in known for i in labels):
                raise ApiError(400, "Validation failed: label_ids: unknown label")
        if "custom_fields" in body:
            self._custom(body["custom_fields"])
        return body

    # -- OAuth -----------------------------------------------------------------------------
    def token(self, request: Request) -> Response:
        if "x-www-form-urlencoded" not in (request.header("Content-Type") or ""):
            return json_response(
                {
                    "success": False,
                    "message": "Invalid request: content must be application/x-www-form-urlencoded",
                },
                400,
            )
        expected = base64.b64encode(f"{self.c.client_id}:{self.c.client_secret}".encode()).decode()
        if not hmac.compare_digest(request.header("Authorization") or "", f"Basic {expected}"):
            return json_response({"success": False, "message": "Invalid client"}, 401)
        form = request.form()
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.c.refresh_token:
            return json_response(
                {"success": False, "message": "Invalid grant: refresh token is invalid"}, 400
            )
        return json_response({
            "access_token": self.c.issue_access_token(), "token_type": "Bearer", "expires_in": 3599,
            "refresh_token": self.c.refresh_token, "scope": "base,deals:full,contacts:full,admin",
            "api_domain": self.c.base_url,
        })  # fmt: skip

    # -- v1 --------------------------------------------------------------------------------
    def me(self, request: Request) -> Response:
        return ok({"id": self.c.user_id, "name": "Sandbox Admin", "email": f"admin@{self.c.name}.example",
                   "company_id": self.c.company_id, "company_name": self.c.name,
                   "company_domain": self.c.name, "is_admin": 1})  # fmt: skip

    def add_field(self, request: Request) -> Response:
        body = request.json() if "json" in (request.header("Content-Type") or "") else request.form()
        name, field_type = body.get("name"), body.get("field_type")
        if not name or field_type not in ("varchar", "text", "double", "monetary", "enum", "set", "date"):
            raise ApiError(400, "Validation failed: name and a valid field_type are required")
        if self.c.field_by_name(str(name)):
            raise ApiError(400, f"A field named {name!r} already exists")
        definition = self.c.add_custom_field(str(name), str(field_type))
        return ok({**definition, "edit_flag": True, "add_time": None}, status=201)

    def edit_field(self, request: Request) -> Response:
        if int(request.params["id"]) != LABEL_FIELD_ID:
            raise ApiError(404, "Field not found")
        options = request.json().get("options")
        if not isinstance(options, list) or not all(isinstance(o, dict) and o.get("label") for o in options):
            raise ApiError(400, "Validation failed: options must be a list of {id?, label}")
        keep = {int(o["id"]) for o in options if o.get("id") is not None}
        with self.c.lock:
            self.c.labels = [label for label in self.c.labels if label["id"] in keep]
            for option in options:
                if option.get("id") is None:
                    self.c.add_label(str(option["label"]))
        return ok(self._label_field())

    def _label_field(self) -> dict[str, Any]:
        return {"id": LABEL_FIELD_ID, "key": "label", "name": "Label", "field_type": "set",
                "options": [dict(label) for label in self.c.labels]}  # fmt: skip

    def webhooks(self, request: Request) -> Response:
        return ok(self.c.webhooks.listed())

    def subscribe(self, request: Request) -> Response:
        body = request.json() if "json" in (request.header("Content-Type") or "") else request.form()
        try:
            return ok(self.c.webhooks.subscribe(dict(body)), status=201)
        except ValueError as failure:
            raise ApiError(400, str(failure)) from None

    def unsubscribe(self, request: Request) -> Response:
        if not self.c.webhooks.unsubscribe(int(request.params["id"])):
            raise ApiError(404, "Webhook not found")
        return ok({"id": int(request.params["id"])})

    # -- v2 records ------------------------------------------------------------------------
    def list_deals(self, request: Request) -> Response:
        limit = int(request.param("limit") or 100)
        if not 1 <= limit <= MAX_LIMIT:
            raise ApiError(400, f"Validation failed: limit: must be between 1 and {MAX_LIMIT}")
        sort_by = request.param("sort_by") or "id"
        if sort_by not in ("id", "update_time", "add_time"):
            raise ApiError(400, "Validation failed: sort_by: must be one of id, update_time, add_time")
        descending = (request.param("sort_direction") or "asc") == "desc"
        statuses = set((request.param("status") or "open,won,lost").split(","))
        since, until = _time(request.param("updated_since")), _time(request.param("updated_until"))
        pipeline = request.param("pipeline_id")
        rows = []
        for deal in list(self.c.deals.values()):
            if deal["status"] not in statuses and not (deal["is_deleted"] and "deleted" in statuses):
                continue
            moment = deal["update_time"].replace(microsecond=0)
            if (since and moment < since) or (until and moment >= until):
                continue
            if pipeline and str(deal["pipeline_id"]) != pipeline:
                continue
            rows.append(deal)

        def key(deal: dict[str, Any]) -> tuple[str, int]:
            if sort_by == "id":
                return ("", deal["id"])
            moment: datetime = deal[sort_by]
            return (moment.strftime("%Y-%m-%dT%H:%M:%SZ"), deal["id"])

        rows.sort(key=key, reverse=descending)
        cursor = request.param("cursor")
        if cursor:
            try:
                after = decode_cursor(cursor)
            except ValueError:
                raise ApiError(400, "Validation failed: cursor: invalid cursor") from None
            rows = [r for r in rows if (key(r) < after if descending else key(r) > after)]
        page, more = rows[:limit], len(rows) > limit
        next_cursor = encode_cursor(key(page[-1])) if more else None
        return ok([render(d) for d in page], {"next_cursor": next_cursor})

    def create(self, kind: str, allowed: set[str]) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            body = _v2_body(request, allowed)
            body = self._deal(body, create=True) if kind == "deal" else self._party(kind, body, create=True)
            return ok(render(self.c.create(kind, body)), status=201)

        return handler

    def read(self, kind: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            return ok(render(self.c.get(kind, int(request.params["id"]))))

        return handler

    def patch(self, kind: str, allowed: set[str]) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            record_id = int(request.params["id"])
            self.c.get(kind, record_id)
            body = _v2_body(request, allowed)
            body = self._deal(body, create=False) if kind == "deal" else self._party(kind, body, create=False)
            return ok(render(self.c.update(kind, record_id, body)))

        return handler

    def remove(self, kind: str) -> Callable[[Request], Response]:
        def handler(request: Request) -> Response:
            self.c.delete(kind, int(request.params["id"]))
            return ok({"id": int(request.params["id"])})

        return handler

    def _party(self, kind: str, body: dict[str, Any], *, create: bool) -> dict[str, Any]:
        if create and not (isinstance(body.get("name"), str) and body["name"].strip()):
            raise ApiError(400, "Validation failed: name: Parameter 'name' is required")
        for name in ("emails", "phones"):
            if name in body and (
                not isinstance(body[name], list)
                or not all(isinstance(e, dict) and "value" in e for e in body[name])
            ):
                raise ApiError(400, f"Validation failed: {name} must be a list of {{value, primary, label}}")
        if "org_id" in body:
            self._ref("organization", body["org_id"], "org_id")
        if "address" in body and body["address"] is not None and not isinstance(body["address"], dict):
            raise ApiError(400, "Validation failed: address must be an object")
        if "custom_fields" in body:
            self._custom(body["custom_fields"])
        return body

    def search_deals(self, request: Request) -> Response:
        term, exact = self._term(request)
        items = []
        for deal in self.c.live("deal"):
            values = [str(v) for v in (deal.get("custom_fields") or {}).values() if v is not None]
            fields = (request.param("fields") or "custom_fields,title").split(",")
            found = (
                [v for v in values if (v == term if exact else term.lower() in v.lower())]
                if "custom_fields" in fields
                else []
            )
            if "title" in fields and (
                deal["title"] == term if exact else term.lower() in deal["title"].lower()
            ):
                found.append(deal["title"])
            if found:
                items.append({"result_score": 1.0, "item": {
                    "id": deal["id"], "type": "deal", "title": deal["title"], "value": deal["value"],
                    "currency": deal["currency"], "status": deal["status"], "visible_to": deal["visible_to"],
                    "owner": {"id": deal["owner_id"]}, "person": None, "organization": None,
                    "custom_fields": found, "notes": []}})  # fmt: skip
        return ok({"items": items}, {"next_cursor": None})

    def search_persons(self, request: Request) -> Response:
        term, exact = self._term(request)
        items = []
        for person in self.c.live("person"):
            emails = [str(e.get("value")) for e in person.get("emails") or []]
            if any((e.lower() == term.lower()) if exact else term.lower() in e.lower() for e in emails):
                items.append({"result_score": 1.0, "item": {
                    "id": person["id"], "type": "person", "name": person["name"], "emails": emails,
                    "phones": [p.get("value") for p in person.get("phones") or []],
                    "organization": {"id": person["org_id"]} if person.get("org_id") else None,
                    "owner": {"id": person["owner_id"]}, "visible_to": person["visible_to"]}})  # fmt: skip
        return ok({"items": items}, {"next_cursor": None})

    @staticmethod
    def _term(request: Request) -> tuple[str, bool]:
        term = request.param("term") or ""
        exact = (request.param("exact_match") or "false") == "true"
        if len(term) < (1 if exact else 2):
            raise ApiError(400, "Validation failed: term: must be at least 2 characters (1 with exact_match)")
        return term, exact

    def deal_fields(self, request: Request) -> Response:
        standard = [
            {"field_name": name, "field_code": code, "field_type": kind, "is_custom_field": False,
             "options": [dict(option) for option in self.c.labels]
             if code == "label" else None, "id": LABEL_FIELD_ID if code == "label" else None}
            for code, name, kind in STANDARD_DEAL_FIELDS
        ]  # fmt: skip
        custom = [
            {"field_name": f["name"], "field_code": f["key"], "field_type": f["field_type"],
             "is_custom_field": True, "options": f["options"], "id": f["id"]}
            for f in self.c.custom_fields.values()
        ]  # fmt: skip
        return ok(standard + custom, {"next_cursor": None})


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, f"Validation failed: {value!r} is not an RFC 3339 date-time") from None


def build_router(company: Company) -> Router:
    h = Handlers(company)
    router = Router()
    router.add("POST", r"/oauth/token", "oauth.token", h.token)
    router.add("GET", rf"{P1}/users/me", "users.me", h.me)
    router.add("POST", rf"{P1}/dealFields", "dealFields.create", h.add_field)
    router.add("PUT", rf"{P1}/dealFields/{ID}", "dealFields.update", h.edit_field)
    router.add("GET", rf"{P1}/webhooks", "webhooks.list", h.webhooks)
    router.add("POST", rf"{P1}/webhooks", "webhooks.create", h.subscribe)
    router.add("DELETE", rf"{P1}/webhooks/{ID}", "webhooks.delete", h.unsubscribe)
    router.add("GET", rf"{P2}/deals/search", "deals.search", h.search_deals)
    router.add("GET", rf"{P2}/persons/search", "persons.search", h.search_persons)
    router.add("GET", rf"{P2}/dealFields", "dealFields.list", h.deal_fields)
    router.add("GET", rf"{P2}/deals", "deals.list", h.list_deals)
    for kind, plural, keys in (("deal", "deals", DEAL_KEYS), ("person", "persons", PERSON_KEYS),
                               ("organization", "organizations", ORG_KEYS)):  # fmt: skip
        router.add("POST", rf"{P2}/{plural}", f"{plural}.create", h.create(kind, keys))
        router.add("GET", rf"{P2}/{plural}/{ID}", f"{plural}.get", h.read(kind))
        router.add("PATCH", rf"{P2}/{plural}/{ID}", f"{plural}.update", h.patch(kind, keys))
        router.add("DELETE", rf"{P2}/{plural}/{ID}", f"{plural}.delete", h.remove(kind))
    return router


def _authorized(company: Company, request: Request) -> bool:
    token = request.header("x-api-token") or request.param("api_token")
    if token is not None:
        return hmac.compare_digest(token, company.api_token)
    bearer = request.header("Authorization") or ""
    return bearer.startswith("Bearer ") and bearer[7:] in company.access_tokens


def _fault(kind: str) -> Response:
    if kind == "bad_gateway":
        return text_response("<html><body><h1>502 Bad Gateway</h1></body></html>", 502, "text/html")
    if kind == "rate_limit":
        return error(429, "Request over limit", [("Retry-After", "2")])
    if kind == "unavailable":
        return error(503, "Service unavailable")
    return error(500, "Internal server error")


def make_app(company: Company) -> App:
    """The request handler serving ``company``."""
    router = build_router(company)

    def app(request: Request) -> Response:
        try:
            match = router.resolve(request.method, request.path)
        except NoRoute as missing:
            company.counters.increment("unrouted")
            return error(405 if missing.allowed else 404, f"Unknown method {request.method} {request.path}")
        company.counters.increment(match.endpoint)
        request.params = match.params
        if match.endpoint == "oauth.token":
            return match.handler(request)
        if not _authorized(company, request):
            bearer = (request.header("Authorization") or "").startswith("Bearer ")
            text = "Invalid token: access token is invalid" if bearer else "unauthorized access"
            return error(401, text, errorCode=401)
        decision = company.faults.decide(match.endpoint)
        apply_transport_faults(decision)
        if decision.error:
            return _fault(decision.error)
        verdict = company.limits.admit()
        if verdict.limited:
            company.counters.increment(f"429.{verdict.limited}")
        if verdict.limited == "daily":
            return error(429, "Daily API token budget exceeded; resets at midnight UTC", verdict.headers)
        if verdict.limited:
            return error(429, "Request over limit", verdict.headers)
        try:
            response = match.handler(request)
        except ApiError as failure:
            response = error(failure.status, failure.error, **failure.extra)
        except (KeyError, TypeError, ValueError, AttributeError) as failure:
            response = error(400, f"Bad request: {type(failure).__name__}: {failure}")
        response.headers += verdict.headers
        return response

    return app
