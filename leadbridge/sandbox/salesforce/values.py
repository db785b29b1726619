"""Field values: JSON in (validated and coerced per field type) and JSON out (Salesforce formats).

Inside the store, datetimes are aware UTC ``datetime`` (ms precision), dates are ``date``,
numbers are ``int``/``float``, booleans ``bool``, everything else ``str``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from leadbridge.sandbox.salesforce.errors import SalesforceApiError
from leadbridge.sandbox.salesforce.schema import TEXT_TYPES, FieldDef

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ID = re.compile(r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")
_DATETIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$")
_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def id18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character Salesforce id (case-safe checksum suffix)."""
    if len(record_id) == 18:
        return record_id
    suffix = ""
    for start in (0, 5, 10):
        chunk = record_id[start : start + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += _CHECKSUM_ALPHABET[bits]
    return record_id + suffix


def looks_like_id(value: str) -> bool:
    """True for a 15- or 18-character alphanumeric string (Salesforce id syntax)."""
    return bool(_ID.match(value))


def parse_datetime(text: str) -> datetime | None:
    """Parse ``2024-05-01T12:34:56.000+0000`` / ``…Z`` / ``…+00:00``; None if not a datetime."""
    match = _DATETIME.match(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or ".0")[1:].ljust(6, "0"))
    try:
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, UTC)
    except ValueError:
        return None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment


def format_datetime(moment: datetime) -> str:
    """Salesforce JSON datetime: ``2024-05-01T12:34:56.000+0000`` (UTC, milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def to_json(value: Any) -> Any:
    """A stored value as it appears in REST JSON."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _bad(definition: FieldDef, value: Any, kind: str) -> SalesforceApiError:
    # Salesforce answers a wrongly typed JSON value with JSON_PARSER_ERROR naming the value.
    return SalesforceApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {kind} from {type(value).__name__} value {value!r} "
        f"for field {definition.name}",
        [definition.name],
    )


def coerce(definition: FieldDef, value: Any) -> Any:
    """Validate a JSON value for a field and return its stored form (raises ``SalesforceApiError``)."""
    if value is None or (value == "" and definition.type in TEXT_TYPES):
        return None
    kind = definition.type
    if kind in TEXT_TYPES:
        if not isinstance(value, str):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _bad(definition, value, "string")
            value = str(value)
        if definition.length and len(value) > definition.length:
            raise SalesforceApiError(
                400,
                "STRING_TOO_LONG",
                f"{definition.label or definition.name}: data value too large: {value[:40]} "
                f"(max length={definition.length})",
                [definition.name],
            )
        if kind == "email" and not _EMAIL.match(value):
            raise SalesforceApiError(
                400, "INVALID_EMAIL_ADDRESS", f"Email: invalid email address: {value}", [definition.name]
            )
        if kind in ("id", "reference") and not looks_like_id(value):
            raise SalesforceApiError(
                400,
                "MALFORMED_ID",
                f"{definition.name}: id value of incorrect type: {value}",
                [definition.name],
            )
        if kind in ("id", "reference"):
            return id18(value)
        if kind in ("picklist", "multipicklist") and definition.restricted:
            for item in value.split(";") if kind == "multipicklist" else [value]:
                if item not in definition.picklist:
                    raise SalesforceApiError(
                        400,
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"{definition.name}: bad value for restricted picklist field: {item}",
                        [definition.name],
                    )
        return value
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad(definition, value, "boolean")
    if kind in ("int", "double", "currency", "percent"):
        if isinstance(value, bool):
            raise _bad(definition, value, kind)
        try:
            number = float(value) if not isinstance(value, int | float) else value
        except (TypeError, ValueError):
            raise _bad(definition, value, kind) from None
        return int(number) if kind == "int" else float(number)
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                pass
        raise _bad(definition, value, "date")
    if kind == "datetime":
        moment = parse_datetime(value) if isinstance(value, str) else None
        if moment is None:
            raise _bad(definition, value, "dateTime")
        return moment.replace(microsecond=moment.microsecond - moment.microsecond % 1000)
    return value
