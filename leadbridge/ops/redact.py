"""The one place that takes secrets out of what is logged: request paths, headers and free text.

Rules:
- a path segment that *is* a credential (``/inbox/signin/<token>``, ``/inbox/o/<token>``) is
  replaced by ``<redacted>``; so is any run of 40 or more URL-safe characters anywhere (every token
  leadbridge issues is at least that long: 256-bit random tokens, sealed links, hex HMACs) and any
  ``lbk_`` API key. Ids (ULIDs, UUIDs) are shorter and stay readable;
- headers that carry credentials (``Authorization``, ``Cookie``, ``Set-Cookie``, signatures, API
  keys) keep their name and lose their value;
- the JSON log formatter (``ops/logs.py``) runs ``redact_text`` over every message and traceback, so
  a secret that slipped into a message anyway never reaches a log line; code that logs a path or
  headers passes them through ``redact_path`` / ``redact_headers`` first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

REDACTED = "<redacted>"
_SECRET_SEGMENT = re.compile(r"(/inbox/signin/|/inbox/o/)[^/?#\s]+")
_API_KEY = re.compile(r"lbk_[A-Za-z0-9_\-]+")
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-]{40,}")
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "x-metrics-token",
        "x-hubspot-signature",
        "x-hubspot-signature-v3",
        "x-csrf-token",
    }
)


def redact_text(text: str) -> str:
    """``text`` with every API key and token-like run replaced (module rules)."""
    return _LONG_TOKEN.sub(REDACTED, _API_KEY.sub(REDACTED, text))


def redact_path(path: str) -> str:
    """A request path (and query) safe to log: credential segments and tokens replaced."""
    return redact_text(_SECRET_SEGMENT.sub(lambda m: m.group(1) + REDACTED, path))


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers safe to log: credential headers keep their name only, other values are redacted text."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name: REDACTED if name.lower() in SECRET_HEADERS else redact_text(str(value)) for name, value in items
    }
