"""Request parsing shared by the HubSpot routes, tolerant the way crm-api-notes §5.1 asks.

Lists arrive as repeated keys (``?properties=a&properties=b``) or comma lists; booleans as Python
reprs (``False``) or JSON (``false``); path segments are percent-encoded (``kim%40example.org``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from leadbridge.sandbox.hubspot.errors import validation_error
from leadbridge.sandbox.server import Request


def query_list(request: Request, name: str) -> list[str]:
    """Every value of a list parameter, whether repeated or comma-separated."""
    values: list[str] = []
    for raw in request.query.get(name, []):
        values += [part for part in raw.split(",") if part]
    return values


def query_bool(request: Request, name: str, default: bool = False) -> bool:
    value = request.param(name)
    return default if value is None else value.strip().lower() == "true"


def query_int(request: Request, name: str, default: int, *, low: int = 1, high: int | None = None) -> int:
    """An integer parameter within [low, high]; out of range or not a number → 400."""
    raw = request.param(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer, got '{raw}'") from None
    if value < low or (high is not None and value > high):
        raise validation_error(f"{name} must be between {low} and {high}")
    return value


def path(request: Request, name: str) -> str:
    """A decoded path parameter."""
    return unquote(request.params[name])


def body(request: Request) -> Any:
    """The JSON body; 400 (as HubSpot words it) when it is not JSON."""
    try:
        return request.json()
    except ValueError:
        raise validation_error("Invalid input JSON on line 1, column 1: Cannot build request body") from None


def body_dict(request: Request) -> dict[str, Any]:
    data = body(request)
    if not isinstance(data, dict):
        raise validation_error("The request body must be a JSON object")
    return data
