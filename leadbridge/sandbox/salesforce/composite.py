"""Composite (``POST {B}/composite``): up to 25 sub-requests in one call, with ``@{ref.path}`` references.

Sub-requests run through the org's own router (same handlers, same user) and count as one API
call, as in Salesforce. ``allOrNone: true`` rolls every write back when a sub-request fails and
reports ``PROCESSING_HALTED`` for the others; without it, only sub-requests that reference a
failed one are halted.
"""

from __future__ import annotations

import json
import re
from email.message import Message
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from leadbridge.sandbox.salesforce.errors import SalesforceApiError
from leadbridge.sandbox.server import NoRoute, Request, Response, json_response

if TYPE_CHECKING:
    from leadbridge.sandbox.salesforce.org import SalesforceOrg
    from leadbridge.sandbox.server import Router

MAX_SUBREQUESTS = 25
_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)\.([^}]+)\}")
_HALTED = {
    "errorCode": "PROCESSING_HALTED",
    "message": "The transaction was rolled back since another operation in the same transaction failed.",
}


class _Unresolved(Exception):
    pass


def _lookup(results: dict[str, Any], ref: str, path: str) -> Any:
    """``records[0].Id`` style paths into an earlier sub-request's body."""
    if ref not in results:
        raise _Unresolved(ref)
    value = results[ref]
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        try:
            value = value[int(part[1:-1])] if part.startswith("[") else value[part]
        except (KeyError, IndexError, TypeError):
            raise _Unresolved(ref) from None
    return value


def _substitute(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _REFERENCE.fullmatch(value)
        if whole:  # keep the referenced value's JSON type
            return _lookup(results, whole.group(1), whole.group(2))
        return _REFERENCE.sub(lambda m: str(_lookup(results, m.group(1), m.group(2))), value)
    if isinstance(value, dict):
        return {k: _substitute(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, results) for v in value]
    return value


def composite_handler(org: SalesforceOrg, router: Router) -> Any:
    """The ``POST {B}/composite`` handler for an org whose routes are in ``router``."""

    def dispatch(parent: Request, method: str, url: str, body: Any) -> Response:
        parts = urlsplit(url)
        headers = Message()
        for name in ("Authorization", "Sforce-Query-Options"):
            if parent.header(name):
                headers[name] = parent.header(name) or ""
        request = Request(
            method.upper(),
            parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            headers,
            b"" if body is None else json.dumps(body).encode(),
            parent.client,
        )
        request.context = dict(parent.context)
        try:
            match = router.resolve(request.method, request.path)
            request.params = match.params
            if match.endpoint == "composite":
                raise SalesforceApiError(400, "INVALID_BATCH_REQUEST", "composite cannot be nested")
            return match.handler(request)
        except NoRoute:
            return json_response(
                [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}], 404
            )
        except SalesforceApiError as error:
            return json_response(error.body(), error.status)

    def handle(request: Request) -> Response:
        try:
            data = request.json()
        except ValueError:
            data = None
        subrequests = data.get("compositeRequest") if isinstance(data, dict) else None
        if not isinstance(subrequests, list) or not subrequests:
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "compositeRequest must be a non-empty array")
        if len(subrequests) > MAX_SUBREQUESTS:
            raise SalesforceApiError(
                400, "LIMIT_EXCEEDED", f"Maximum number of subrequests ({MAX_SUBREQUESTS}) exceeded"
            )
        all_or_none = bool(data.get("allOrNone", False))
        answers: list[dict[str, Any]] = []
        bodies: dict[str, Any] = {}
        with org.store.transaction() as rollback:
            failed = False
            for sub in subrequests:
                reference = str(sub.get("referenceId", ""))
                if failed and all_or_none:
                    answers.append(_answer(reference, 400, [dict(_HALTED)]))
                    continue
                try:
                    url = _substitute(str(sub.get("url", "")), bodies)
                    body = _substitute(sub.get("body"), bodies)
                except _Unresolved as missing:
                    failed = True
                    answers.append(
                        _answer(
                            reference,
                            400,
                            [
                                {
                                    "errorCode": "PROCESSING_HALTED",
                                    "message": f"Invalid reference specified. No value for {missing} found",
                                }
                            ],
                        )
                    )
                    continue
                response = dispatch(request, str(sub.get("method", "GET")), url, body)
                parsed = json.loads(response.body) if response.body else None
                bodies[reference] = parsed
                failed = failed or response.status >= 400
                answers.append(_answer(reference, response.status, parsed))
            if all_or_none and failed:
                rollback()
                answers = [
                    a if a["httpStatusCode"] >= 400 else _answer(a["referenceId"], 400, [dict(_HALTED)])
                    for a in answers
                ]
        return json_response({"compositeResponse": answers})

    return handle


def _answer(reference: str, status: int, body: Any) -> dict[str, Any]:
    return {"body": body, "httpHeaders": {}, "httpStatusCode": status, "referenceId": reference}
