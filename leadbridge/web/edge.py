"""What the JSON API refuses at its edge, before any model sees the request.

Rules (every ``/api/v1`` route is an ``EdgeCheckedRoute``):
- a NUL character anywhere — path, query string, or any string or key of a JSON body (``\\u0000``)
  — is 422: PostgreSQL cannot store it and no CRM field needs it;
- a JSON body with a non-finite number (``NaN``, ``Infinity``, or a literal such as ``1e999`` that
  overflows to infinity) is 422: JSON has no such numbers, and they would poison scores and sums;
- a body that is not JSON at all is left to the framework (422 with the parse error).
The answer is the API's error JSON (``web/errors.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.responses import Response


class EdgeProblem(ValueError):
    pass


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise EdgeProblem(f"number {text[:40]} is out of range: only finite numbers are accepted")
    return value


def _no_constants(name: str) -> float:
    raise EdgeProblem(f"{name} is not a number JSON allows: only finite numbers are accepted")


def _walk(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise EdgeProblem("NUL characters (\\u0000) are not accepted in text")
    elif isinstance(value, dict):
        for key, item in value.items():
            _walk(key)
            _walk(item)
    elif isinstance(value, list):
        for item in value:
            _walk(item)


async def edge_problem(request: Request) -> str | None:
    """Why the request is refused at the edge (module rules), or None."""
    if "\x00" in unquote(request.url.path) or "\x00" in unquote(request.url.query):
        return "NUL characters are not accepted in the URL"
    body = await request.body()
    if not body:
        return None
    try:
        data = json.loads(body, parse_float=_finite, parse_constant=_no_constants)
    except EdgeProblem as problem:
        return str(problem)
    except ValueError:
        return None  # not JSON: the framework answers with its parse error
    try:
        _walk(data)
    except EdgeProblem as problem:
        return str(problem)
    return None


class EdgeCheckedRoute(APIRoute):
    """An API route that applies the module rules before its handler parses anything."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            problem = await edge_problem(request)
            if problem is not None:
                return JSONResponse({"detail": problem, "error": "invalid"}, status_code=422)
            return await handler(request)

        return checked
