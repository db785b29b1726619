"""HubSpot's error table: ``(HTTP status, category or 429 policy)`` → what leadbridge does next.

HubSpot answers 429 for three different limits and only the body tells them apart (``policyName``;
crm-api-notes §6.2): the rolling ten-second window (wait ~10 s × attempt), the search bucket of
5/s (wait ~1 s × attempt) and the daily allowance (stop for the day, checkpoint saved). Every error
body is JSON with a ``category``; ``ApiException.body`` is a *str* (parse it here) and the exception
class differs per generated sub-package, so callers pass status, body and headers, not the class.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadbridge.core.errors import LeadbridgeError
from leadbridge.ports import Action, ErrorRule, ErrorTable

A = Action
TEN_SECONDLY = "TEN_SECONDLY_ROLLING"
SECONDLY = "SECONDLY"  # the search bucket (the sandbox's name; HubSpot's is unconfirmed)
DAILY = "DAILY"
TLS_FAILED = "TLS_FAILED"

HUBSPOT_ERRORS = ErrorTable(
    "HubSpot",
    (
        ErrorRule(429, DAILY, A.STOP_QUOTA, "the portal's daily API limit is used up; resuming tomorrow"),
        ErrorRule(429, None, A.RETRY, "rate limited"),
        ErrorRule(
            401,
            None,
            A.REFRESH_SESSION,
            "the access token was refused: check the private app token (or OAuth grant) of this "
            "connection and its scopes crm.objects.contacts/companies/deals read+write, "
            "crm.schemas.contacts.read",
        ),
        ErrorRule(
            403, None, A.FATAL, "the token lacks a scope: add it to the private app, then rotate the token"
        ),
        ErrorRule(0, TLS_FAILED, A.FATAL, "TLS verification failed: check ca_file and base_url"),
        ErrorRule(409, None, A.SKIP, "the record conflicts with an existing one"),
        ErrorRule(404, None, A.SKIP, "the record does not exist"),
        ErrorRule(423, None, A.RETRY, "the portal is locked by a bulk sync"),
        ErrorRule(477, None, A.RETRY, "a portal migration is in progress"),
        ErrorRule(400, "VALIDATION_ERROR", A.SKIP, "HubSpot refused the values"),
    ),
)


@dataclass(frozen=True)
class HubSpotFailure:
    """One failed answer, parsed: status, category, 429 policy, message, Retry-After."""

    status: int | None
    category: str | None
    policy: str | None
    message: str
    retry_after: float | None = None
    context: Mapping[str, Any] | None = None

    @property
    def code(self) -> str | None:
        """The error table's code: the 429 policy when there is one, else the category."""
        return self.policy or self.category


def parse_body(body: Any) -> dict[str, Any]:
    """An error body as a dict (``ApiException.body`` is a str, sometimes not JSON at all)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return {"message": body[:300]}
    return dict(body) if isinstance(body, Mapping) else {}


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def failure(status: int | None, body: Any, headers: Any = None, reason: str | None = None) -> HubSpotFailure:
    """Parse a failed answer (status, body str/dict, headers) into a ``HubSpotFailure``."""
    data = parse_body(body)
    policy = data.get("policyName")
    message = str(data.get("message") or reason or "no message")
    if status == 429 and not policy:  # older answers only say it in words
        lowered = message.lower()
        policy = DAILY if "daily" in lowered else SECONDLY if "secondly limit" in lowered else TEN_SECONDLY
    category = data.get("category")
    if status == 0 and "CERTIFICATE_VERIFY_FAILED" in message + str(reason):
        category = TLS_FAILED
    retry_after = _header(headers, "Retry-After")
    return HubSpotFailure(
        status,
        str(category) if category else None,
        str(policy) if policy else None,
        message,
        float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
        data.get("context"),
    )


def wait_seconds(found: HubSpotFailure, attempt: int) -> float | None:
    """How long to wait before trying again after ``found`` on try ``attempt`` (1-based).

    Retry-After wins when HubSpot sends it; otherwise the Node SDK's schedule: the ten-second
    window 10 s × attempt, the search bucket 1 s × attempt; other retriable failures use the retry
    policy's own exponential backoff (``None``).
    """
    if found.retry_after is not None:
        return found.retry_after
    if found.status == 429 and found.policy == SECONDLY:
        return 1.0 * attempt
    if found.status == 429 and found.policy == TEN_SECONDLY:
        return 10.0 * attempt
    return None


def translate(found: HubSpotFailure, what: str, attempt: int = 1) -> LeadbridgeError:
    """The leadbridge exception for one failed call, per ``HUBSPOT_ERRORS``."""
    return HUBSPOT_ERRORS.error_for(
        found.status, found.code, f"{what}: {found.message}", retry_after=wait_seconds(found, attempt)
    )


def item_rule(error: Mapping[str, Any]) -> ErrorRule:
    """What to do with one failed batch input (an item of a 207's ``errors``)."""
    category = str(error.get("category") or "")
    status = {"CONFLICT": 409, "OBJECT_NOT_FOUND": 404}.get(category, 400)
    return HUBSPOT_ERRORS.classify(status, category or None)
