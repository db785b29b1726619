"""Dataverse's error table: ``(HTTP status, error code)`` → what leadbridge does next.

Error bodies are ``{"error": {"code": "0x…", "message": …}}``; the code is a hex HRESULT, not the
HTTP status, and may be empty. Service protection answers 429 with ``Retry-After`` and one of
three codes; a 401 has an empty body and a ``WWW-Authenticate`` challenge (the token expired).
"""

from __future__ import annotations

from typing import Any

from leadbridge.ports import Action, ErrorRule, ErrorTable

A = Action
THROTTLE_CODES = ("0x80072322", "0x80072321", "0x80072326")  # requests / execution time / concurrency

DYNAMICS_ERRORS = ErrorTable(
    "Dataverse",
    (
        ErrorRule(429, "0x80072322", A.RETRY, "service protection: too many requests in 5 minutes"),
        ErrorRule(429, "0x80072321", A.RETRY, "service protection: too much execution time in 5 minutes"),
        ErrorRule(429, "0x80072326", A.RETRY, "service protection: too many concurrent requests"),
        ErrorRule(429, None, A.RETRY, "too many requests"),
        ErrorRule(401, None, A.REFRESH_SESSION, "the access token expired or was refused"),
        ErrorRule(
            403,
            None,
            A.FATAL,
            "the application user lacks a security role for this (assign one in the environment)",
        ),
        ErrorRule(404, "0x80040217", A.SKIP, "the record does not exist"),
        ErrorRule(
            404, "0x8006088a", A.FATAL, "the table or endpoint does not exist (check org_url and the object)"
        ),
        ErrorRule(412, "0x80040237", A.SKIP, "a record with the same alternate key already exists"),
        ErrorRule(412, "0x80060882", A.RETRY, "the record changed meanwhile (ETag mismatch)"),
        ErrorRule(
            400,
            "0x80060888",
            A.FATAL,
            "a mapped column or query option does not exist: fix the mapping or create the column",
        ),
        ErrorRule(400, "0x80044331", A.SKIP, "a value is longer than the column allows"),
        ErrorRule(400, "0x80048d19", A.SKIP, "a value has the wrong type for its column"),
        ErrorRule(400, "0x80048408", A.SKIP, "the status reason does not belong to the state"),
        ErrorRule(400, "0x8004431a", A.SKIP, "a choice value is not an option of its column"),
        ErrorRule(408, None, A.RETRY, "the request timed out"),
    ),
)


def error_of(body: Any) -> tuple[str | None, str]:
    """The code and message of a Dataverse error body (``None`` code when absent or empty)."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code") or "") or None
        return code, str(error.get("message") or "")
    return None, str(body)[:300] if body else ""


def item_rule(status: int, body: Any) -> ErrorRule:
    """What to do with one failed ``$batch`` item."""
    code, _ = error_of(body)
    return DYNAMICS_ERRORS.classify(status, code)
