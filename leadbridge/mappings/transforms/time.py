"""Dates and date-times: ISO 8601 (Salesforce), milliseconds since the epoch (HubSpot), patterns.

Canonical date-times are aware and in UTC; a remote value without an offset is read in
``timezone``. Canonical dates are plain dates; HubSpot stores a date as midnight UTC in ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import field_validator

from leadbridge.mappings.transforms.base import Args, Transform, ValueProblem, register


def _epoch_ms(value: Any) -> datetime | None:
    """A UTC datetime if the value is a number or all digits (epoch milliseconds), else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value / 1000, UTC)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return datetime.fromtimestamp(int(value.strip()) / 1000, UTC)
    return None


def _to_epoch_ms(moment: datetime) -> str:
    # HubSpot returns every property as a string; writing the same form keeps values comparable.
    return str(round(moment.timestamp() * 1000))


class DateArgs(Args):
    format: Literal["iso", "epoch_ms"] = "iso"
    pattern: str | None = None

    @field_validator("pattern")
    @classmethod
    def _pattern_formats(cls, value: str | None) -> str | None:
        if value is not None:
            datetime(2024, 12, 31).strftime(value)
        return value


@register
class Date(Transform[DateArgs]):
    """A calendar date: ``iso`` (``2024-05-01``), ``epoch_ms`` (HubSpot: midnight UTC in ms), or a
    strftime ``pattern`` such as ``"%d.%m.%Y"``. A date-time read as a date keeps its date part."""

    name = "date"
    args_model = DateArgs
    primary = "format"

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        try:
            if self.args.pattern:
                return datetime.strptime(str(value).strip(), self.args.pattern).date()
            moment = _epoch_ms(value)
            if moment is not None:
                return moment.date()
            return date.fromisoformat(str(value).strip()[:10])
        except (ValueError, OverflowError, OSError):
            raise ValueProblem(f"{value!r} is not a date") from None

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        day = self.inbound(value, source, target)
        if self.args.pattern:
            return day.strftime(self.args.pattern)
        if self.args.format == "epoch_ms":
            return _to_epoch_ms(datetime(day.year, day.month, day.day, tzinfo=UTC))
        return day.isoformat()


class DateTimeArgs(Args):
    format: Literal["iso", "salesforce", "epoch_ms"] = "iso"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from None
        return value


@register
class DateTime(Transform[DateTimeArgs]):
    """A moment in time, canonical in UTC. Reads ISO 8601 with ``Z``, ``+00:00`` or ``+0000``, a
    date alone (midnight), or epoch ms; values without an offset are in ``timezone``. Writes
    ``salesforce`` (``2024-05-01T12:34:56.000+0000``), ``iso`` (in ``timezone``, ``Z`` for UTC)
    or ``epoch_ms`` (text, as HubSpot returns it)."""

    name = "datetime"
    args_model = DateTimeArgs
    primary = "format"

    def __init__(self, args: DateTimeArgs) -> None:
        super().__init__(args)
        self.zone: tzinfo = UTC if args.timezone == "UTC" else ZoneInfo(args.timezone)

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if value.__class__ is str and value[4:5] == "-":  # ISO text, the common case: parse directly
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise ValueProblem(f"{value!r} is not a date-time") from None
        elif isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            try:
                moment = _epoch_ms(value) or datetime.fromisoformat(str(value).strip())
            except (ValueError, OverflowError, OSError):
                raise ValueProblem(f"{value!r} is not a date-time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(UTC)

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        moment: datetime = self.inbound(value, source, target)
        if self.args.format == "epoch_ms":
            return _to_epoch_ms(moment)
        if self.args.format == "salesforce":
            return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
        text = moment.astimezone(self.zone).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
