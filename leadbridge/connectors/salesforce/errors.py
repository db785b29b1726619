"""Salesforce's error table: ``(HTTP status, errorCode)`` → what leadbridge does next.

Salesforce signals an exhausted daily allocation with 403 ``REQUEST_LIMIT_EXCEEDED`` (there is no
429 in its REST API, but proxies and the sandbox may send one, so 429 retries). Error bodies are
lists ``[{"errorCode", "message"}]``; collection items use ``statusCode`` instead (BEHAVIOR.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from simple_salesforce.exceptions import SalesforceError

from leadbridge.core.errors import LeadbridgeError
from leadbridge.ports import Action, ErrorRule, ErrorTable

A = Action

SALESFORCE_ERRORS = ErrorTable(
    "Salesforce",
    (
        ErrorRule(None, "REQUEST_LIMIT_EXCEEDED", A.STOP_QUOTA, "the org's daily API allocation is used up"),
        ErrorRule(None, "INVALID_SESSION_ID", A.REFRESH_SESSION, "the session expired"),
        ErrorRule(401, None, A.REFRESH_SESSION, "the session expired"),
        ErrorRule(None, "UNABLE_TO_LOCK_ROW", A.RETRY, "the record is locked by another update"),
        ErrorRule(None, "SERVER_UNAVAILABLE", A.RETRY, "Salesforce is temporarily unavailable"),
        ErrorRule(None, "API_DISABLED_FOR_ORG", A.FATAL, "the API is not enabled for this org or user"),
        ErrorRule(None, "API_CURRENTLY_DISABLED", A.FATAL, "the API is disabled for this user"),
        ErrorRule(
            None, "INSUFFICIENT_ACCESS_OR_READONLY", A.SKIP, "the integration user may not change this record"
        ),
        ErrorRule(None, "INVALID_FIELD", A.FATAL, "a mapped field does not exist: fix mapping or org"),
        ErrorRule(None, "INVALID_TYPE", A.FATAL, "the object does not exist in this org"),
        ErrorRule(None, "MALFORMED_QUERY", A.FATAL, "the query is invalid (check qualification_filter)"),
        ErrorRule(None, "INVALID_QUERY_LOCATOR", A.RETRY, "the query cursor expired; the read restarts"),
        ErrorRule(403, None, A.FATAL, "Salesforce refused the request (permissions)"),
        ErrorRule(404, "NOT_FOUND", A.SKIP, "the record does not exist"),
        ErrorRule(None, "ENTITY_IS_DELETED", A.SKIP, "the record was deleted"),
        ErrorRule(408, None, A.RETRY, "the request timed out"),
        ErrorRule(429, None, A.RETRY, "too many requests"),
    ),
)


def error_code(content: Any) -> tuple[str | None, str]:
    """The first ``errorCode``/``statusCode`` and message of a Salesforce error body (list or dict)."""
    first: Any = content[0] if isinstance(content, list) and content else content
    if isinstance(first, Mapping):
        code = first.get("errorCode") or first.get("statusCode")
        return (str(code) if code else None), str(first.get("message", ""))
    return None, str(content)[:300]


def translate(error: SalesforceError, what: str, *, retry_after: float | None = None) -> LeadbridgeError:
    """The leadbridge exception for a simple-salesforce error, per ``SALESFORCE_ERRORS``.

    simple-salesforce's exceptions carry no headers, so the caller passes the answer's
    ``Retry-After`` (in seconds) that it kept; a retriable error carries it to the policy."""
    code, message = error_code(error.content)
    return SALESFORCE_ERRORS.error_for(error.status, code, f"{what}: {message}", retry_after=retry_after)


def item_rule(errors: list[Mapping[str, Any]]) -> ErrorRule:
    """What to do with one failed collection item (``errors`` as returned for the item)."""
    code, _ = error_code(errors)
    return SALESFORCE_ERRORS.classify(400, code)  # the item failed on its own: unknown codes skip
