"""How rows look on the wire: ``@odata.etag``, ``$select``, date-times to the second, lookups as
``_x_value``, and formatted values only when ``Prefer: odata.include-annotations`` asks for them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from leadbridge.sandbox.dynamics.catalogue import Table
from leadbridge.sandbox.dynamics.odata import QueryError
from leadbridge.sandbox.dynamics.org import show_time

FORMATTED = "OData.Community.Display.V1.FormattedValue"


def etag(row: Mapping[str, Any]) -> str:
    return f'W/"{row["versionnumber"]}"'


def prefer(header: str | None) -> dict[str, str]:
    """``Prefer`` preferences as name → value (``return=representation`` → ``return``)."""
    found: dict[str, str] = {}
    for part in (header or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            found[name.strip().lower()] = value.strip().strip('"')
    return found


def wants_formatted(preferences: Mapping[str, str]) -> bool:
    wanted = preferences.get("odata.include-annotations", "")
    return wanted == "*" or FORMATTED in wanted


def columns_of(table: Table, select: str | None) -> list[str]:
    """The columns a ``$select`` names (all when absent); the primary id is always included."""
    if not select:
        return list(table.columns)
    names = [name.strip() for name in select.split(",") if name.strip()]
    for name in names:
        if name not in table.columns:
            raise QueryError(
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.{table.logical}'."
            )
    return list(dict.fromkeys([*names, table.primary_id]))


def render(
    table: Table, row: Mapping[str, Any], columns: Iterable[str], *, formatted: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"@odata.etag": etag(row)}
    for name in columns:
        value = row.get(name)
        column = table.columns[name]
        if formatted and value is not None and column.options:
            out[f"{name}@{FORMATTED}"] = dict(column.options).get(value, str(value))
        if isinstance(value, datetime):
            value = value.date().isoformat() if column.date_only else show_time(value)
        out[name] = value
    return out
