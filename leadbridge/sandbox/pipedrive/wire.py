"""Pipedrive's JSON envelopes and record rendering.

Success: ``{"success": true, "data": …, "additional_data": {…}}``; error: ``{"success": false,
"error": "…", "error_info": "…", "data": null, "additional_data": null}``. v2 times are RFC 3339
in UTC with seconds; custom fields sit under ``custom_fields`` (unset ones are absent).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from leadbridge.sandbox.server import Response, json_response

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."


def ok(data: Any, additional: dict[str, Any] | None = None, status: int = 200) -> Response:
    body: dict[str, Any] = {"success": True, "data": data}
    if additional is not None:
        body["additional_data"] = additional
    return json_response(body, status)


def error(status: int, message: str, headers: Iterable[tuple[str, str]] = (), **extra: Any) -> Response:
    body = {"success": False, "error": message, "error_info": ERROR_INFO, "data": None,
            "additional_data": None, **extra}  # fmt: skip
    return json_response(body, status, headers)


def render(record: dict[str, Any]) -> dict[str, Any]:
    """A stored record as v2 shows it."""
    shown = {}
    for key, value in record.items():
        shown[key] = value.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(value, datetime) else value
    shown["custom_fields"] = dict(record.get("custom_fields") or {})
    return shown


def encode_cursor(key: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, int]:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        sort, record_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return str(sort), int(record_id)
    except (ValueError, TypeError) as failure:
        raise ValueError("Invalid cursor") from failure
