"""Pipedrive's error table: HTTP status (and the 429 kind) → what leadbridge does next.

Every answer is the envelope ``{"success", "error", "error_info", "data"}``; a gateway error may be
an HTML page instead (pipedrive-python-lib returns such a body as if it were data, crm-api-notes
§0.11): any non-JSON answer is a failure here, transient when 5xx. A 429 is the 2-second burst
window (wait ``Retry-After``, else ``x-ratelimit-reset``, else the window) or the company's daily
token budget (stop for the day, checkpoint saved): a wait of an hour or more, or an error text
naming the daily budget, is the daily one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.retry import parse_retry_after
from leadbridge.ports import Action, ErrorRule, ErrorTable

A = Action
DAILY = "DAILY"
TLS_FAILED = "TLS_FAILED"
WINDOW_SECONDS = 2.0  # the burst window
DAILY_AFTER_SECONDS = 3600.0  # a 429 asking to wait this long is the daily budget

PIPEDRIVE_ERRORS = ErrorTable(
    "Pipedrive",
    (
        ErrorRule(429, DAILY, A.STOP_QUOTA, "the company's daily API budget is used up; resuming tomorrow"),
        ErrorRule(429, None, A.RETRY, "rate limited (2-second burst window)"),
        ErrorRule(
            401,
            None,
            A.FATAL,
            "the credentials were refused: check api_token (Pipedrive → Personal preferences → API) or "
            "the OAuth app's client_id, client_secret and refresh_token",
        ),
        ErrorRule(403, None, A.FATAL, "the user lacks a permission or the OAuth app a scope: check them"),
        ErrorRule(402, None, A.FATAL, "the company's plan does not include this feature"),
        ErrorRule(0, TLS_FAILED, A.FATAL, "TLS verification failed: check ca_file and base_url"),
        ErrorRule(415, None, A.FATAL, "Pipedrive refused the body type (a leadbridge bug: please report it)"),
        ErrorRule(404, None, A.SKIP, "the record does not exist"),
        ErrorRule(410, None, A.SKIP, "the record is gone"),
        ErrorRule(400, None, A.SKIP, "Pipedrive refused the values"),
        ErrorRule(422, None, A.SKIP, "Pipedrive refused the values"),
    ),
)


def header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def wait_of(status: int, headers: Mapping[str, str] | None) -> float | None:
    """How long a 429 asks to wait: ``Retry-After`` (seconds or HTTP-date), else
    ``x-ratelimit-reset``, else the burst window."""
    if status != 429:
        return parse_retry_after(header(headers, "Retry-After"))
    for name in ("Retry-After", "x-ratelimit-reset"):
        seconds = parse_retry_after(header(headers, name))
        if seconds is not None:
            return max(seconds, 1.0)
    return WINDOW_SECONDS


def translate(status: int, body: Any, headers: Mapping[str, str] | None, what: str) -> LeadbridgeError:
    """The leadbridge exception for one failed answer (module rules)."""
    message = (
        str(body.get("error") or body.get("message") or "no message")
        if isinstance(body, dict)
        else str(body)[:200]
    )
    wait = wait_of(status, headers)
    code = None
    if status == 429 and ((wait or 0) >= DAILY_AFTER_SECONDS or "daily" in message.lower()):
        code = DAILY
    return PIPEDRIVE_ERRORS.error_for(status, code, f"{what}: {message}", retry_after=wait)
