"""HubSpot's error bodies (crm-api-notes §4.7, §6.2), raised as ``HubSpotError`` by the domain code.

The HTTP layer turns a raised ``HubSpotError`` into its status and JSON body; batch operations
collect them per input and report them inside a 207 as ``StandardError`` items, which the client's
model requires to carry ``status, category, message, errors, context, links``.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

VALIDATION_ERROR = "VALIDATION_ERROR"
OBJECT_NOT_FOUND = "OBJECT_NOT_FOUND"
CONFLICT = "CONFLICT"


def correlation_id() -> str:
    """A fresh correlation id, as every HubSpot error carries."""
    return str(uuid.uuid4())


@dataclass
class HubSpotError(Exception):
    """A HubSpot error: HTTP status, category, message and optional per-field details and context."""

    status: int
    category: str
    message: str
    errors: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, list[str]] = field(default_factory=dict)
    sub_category: str | None = None

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        """The top-level error body a failed request answers with."""
        data: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": correlation_id(),
            "category": self.category,
        }
        if self.sub_category:
            data["subCategory"] = self.sub_category
        if self.errors:
            data["errors"] = self.errors
        if self.context:
            data["context"] = self.context
        return data

    def standard_error(self) -> dict[str, Any]:
        """The error as one ``StandardError`` item of a 207 batch answer (every required field set)."""
        data: dict[str, Any] = {
            "status": "error",
            "category": self.category,
            "message": self.message,
            "errors": self.errors,
            "context": self.context,
            "links": {},
        }
        if self.sub_category:
            data["subCategory"] = self.sub_category
        return data


def validation_error(message: str, **context: list[str]) -> HubSpotError:
    """400 ``VALIDATION_ERROR`` with an optional context."""
    return HubSpotError(400, VALIDATION_ERROR, message, context=dict(context))


def not_found(object_id: str) -> HubSpotError:
    """404 ``OBJECT_NOT_FOUND`` for one id (message as HubSpot words it, crm-api-notes §4.1)."""
    return HubSpotError(
        404, OBJECT_NOT_FOUND, "Object not found.  objectId are usually numeric.", context={"id": [object_id]}
    )


@dataclass(frozen=True)
class InvalidProperty:
    """One rejected property value, as listed inside HubSpot's 'Property values were not valid'."""

    name: str
    error: str  # PROPERTY_DOESNT_EXIST, READ_ONLY_VALUE, INVALID_INTEGER, INVALID_OPTION, …
    message: str


def invalid_properties(problems: list[InvalidProperty]) -> HubSpotError:
    """400 ``VALIDATION_ERROR`` whose message embeds the JSON list of invalid properties."""
    listed = [{"isValid": False, "message": p.message, "error": p.error, "name": p.name} for p in problems]
    details = [
        {"message": p.message, "code": p.error, "context": {"propertyName": [p.name]}} for p in problems
    ]
    message = "Property values were not valid: " + json.dumps(listed, separators=(",", ":"))
    return HubSpotError(400, VALIDATION_ERROR, message, errors=details)


def unauthorized() -> dict[str, Any]:
    """The 401 body for a missing or unknown token."""
    return {
        "status": "error",
        "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
        "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "correlationId": correlation_id(),
        "category": "INVALID_AUTHENTICATION",
    }


# policyName → message of a 429 (crm-api-notes §6.2); SECONDLY is the search bucket.
RATE_LIMIT_MESSAGES = {
    "DAILY": "You have reached your daily limit.",
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
}


def rate_limited(policy: str) -> dict[str, Any]:
    """The 429 body for one policy (``DAILY``, ``TEN_SECONDLY_ROLLING`` or ``SECONDLY``)."""
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": str(uuid.uuid4()),
    }
