"""Structured logs: one JSON object per line, carrying the lead id and never personal data at info.

Rules:
- every record is one JSON line with ``ts``, ``level``, ``logger``, ``msg`` and the context fields
  bound with ``log_context`` (``lead_id``, ``step``, ``task_id``, ``connection``, ``target``…), so an
  operator can follow one lead across the web app, the scheduler and every worker;
- personal data (names, e-mail, phone, street) is written only at DEBUG: at INFO and above those
  ``extra`` fields are dropped and e-mail addresses / phone numbers in the message are masked;
- secrets never reach a log line: settings are logged through ``Settings.safe_dump`` only, and
  every message and traceback passes ``ops.redact.redact_text`` (tokens, API keys) at every level.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from leadbridge.ops.redact import redact_text

PII_FIELDS = frozenset(
    {"email", "phone", "mobile", "first_name", "last_name", "full_name", "name", "street", "address"}
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()/-]{7,}\d")
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}

_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "leadbridge_log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Bind ``fields`` (e.g. ``lead_id=…``) to every record logged inside the block, in this thread."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def bound() -> dict[str, Any]:
    """The context fields bound right now."""
    return dict(_context.get())


def mask_personal(text: str) -> str:
    """Replace e-mail addresses and phone numbers in ``text`` with placeholders."""
    return _PHONE.sub("<phone>", _EMAIL.sub("<email>", text))


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line per the module rules."""

    def format(self, record: logging.LogRecord) -> str:
        personal_ok = record.levelno < logging.INFO
        message = record.getMessage()
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact_text(message if personal_ok else mask_personal(message)),
        }
        entry.update(_context.get())
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if key in PII_FIELDS and not personal_ok:
                continue
            entry[key] = value
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            entry["exc"] = redact_text(trace if personal_ok else mask_personal(trace))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "INFO", *, stream: Any = None) -> logging.Handler:
    """Send every leadbridge (and Celery) record to ``stream`` (stderr) as JSON lines at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        if isinstance(existing.formatter, JsonFormatter):
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
