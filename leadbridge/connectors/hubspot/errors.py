"""HubSpot's error table: ``(HTTP status, category or 429 policy)`` → what leadbridge does next.

HubSpot answers 429 for three different limits and only the body tells them apart (``policyName``;
crm-api-notes §6.2): the rolling ten-second window, the search bucket of 5/s and the daily
allowance (stop for the day, checkpoint saved). ``Retry-After`` is not guaranteed on a 429
(present on 477): without it, the window's length stands in for it (10 s, 1 s) — retrying sooner
only meets the same full window. The wait itself is the one policy's (``core/retry.py``). Every error
body is JSON with a ``category``; ``ApiException.body`` is a *str* (parse it here) and the exception
class differs per generated sub-package, so callers pass status, body and headers, not the class.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.retry import parse_retry_after
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
    return HubSpotFailure(
        status,
        str(category) if category else None,
        str(policy) if policy else None,
        message,
        parse_retry_after(_header(headers, "Retry-After")),
        data.get("context"),
    )


# How long a rate-limit window lasts: a 429 without Retry-After waits at least this long.
WINDOW_SECONDS = {TEN_SECONDLY: 10.0, SECONDLY: 1.0}


def retry_after(found: HubSpotFailure) -> float | None:
    """The Retry-After to honour for ``found``: HubSpot's header (seconds or HTTP-date) when sent,
    else the length of the rate-limit window it hit; ``None`` leaves the wait to the policy."""
    if found.retry_after is not None:
        return found.retry_after
    if found.status == 429 and found.policy is not None:
        return WINDOW_SECONDS.get(found.policy)
    return None


def translate(found: HubSpotFailure, what: str) -> LeadbridgeError:
    """The leadbridge exception for one failed call, per ``HUBSPOT_ERRORS``."""
    return HUBSPOT_ERRORS.error_for(
        found.status, found.code, f"{what}: {found.message}", retry_after=retry_after(found)
    )


def item_rule(error: Mapping[str, Any]) -> ErrorRule:
    """What to do with one failed batch input (an item of a 207's ``errors``)."""
    category = str(error.get("category") or "")
    status = {"CONFLICT": 409, "OBJECT_NOT_FOUND": 404}.get(category, 400)
    return HUBSPOT_ERRORS.classify(status, category or None)
