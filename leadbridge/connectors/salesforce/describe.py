"""Salesforce's object description as a ``ports.RemoteObject``, and what an admin must add in Setup
(custom fields cannot be created through the data API)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from leadbridge.ports import (
    BOOLEAN,
    DATE,
    DATETIME,
    MULTI,
    NUMBER,
    TEXT,
    FieldSpec,
    RemoteField,
    RemoteObject,
)

_FAMILIES = {
    "int": NUMBER,
    "double": NUMBER,
    "currency": NUMBER,
    "percent": NUMBER,
    "boolean": BOOLEAN,
    "date": DATE,
    "datetime": DATETIME,
    "multipicklist": MULTI,
}
# Salesforce field type (as Setup names it) per value family.
_SETUP_TYPES = {
    TEXT: "Text(255)",
    NUMBER: "Number(18, 2)",
    BOOLEAN: "Checkbox",
    DATE: "Date",
    DATETIME: "Date/Time",
    MULTI: "Picklist (Multi-Select)",
}


def remote_from_describe(describe: dict[str, Any]) -> RemoteObject:
    """A ``RemoteObject`` from ``sf.<Object>.describe()``."""
    remote = RemoteObject("salesforce", str(describe.get("name", "")))
    for item in describe.get("fields", []):
        kind = str(item.get("type", "string"))
        remote.fields[item["name"]] = RemoteField(
            name=item["name"],
            type=kind,
            family=_FAMILIES.get(kind, TEXT),
            picklist=tuple(
                str(v["value"]) for v in item.get("picklistValues") or [] if v.get("active", True)
            ),
            writable=bool(item.get("createable", True) or item.get("updateable", True)),
            required=not item.get("nillable", True)
            and bool(item.get("createable", True))
            and not item.get("defaultedOnCreate", False)
            and kind != "boolean",
            label=str(item.get("label") or ""),
        )
    return remote


def setup_instructions(object_name: str, specs: Sequence[FieldSpec]) -> tuple[str, ...]:
    """Plain steps for a Salesforce admin: the fields to create in Setup."""
    steps = []
    for spec in specs:
        kind = _SETUP_TYPES[spec.family]
        if spec.options and spec.family == TEXT:
            kind = f"Picklist with values: {', '.join(spec.options)}"
        extra = ", External ID, Unique" if spec.unique else ""
        steps.append(
            f"Setup → Object Manager → {object_name} → Fields & Relationships → New: "
            f"label '{spec.label}', API name {spec.name}, type {kind}{extra}"
        )
    return tuple(steps)
