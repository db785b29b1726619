"""HubSpot's property definitions as a ``ports.RemoteObject``, and the bodies that create missing
properties (``POST /crm/v3/properties/{object}``)."""

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

_HUBSPOT_FAMILIES = {"number": NUMBER, "bool": BOOLEAN, "date": DATE, "datetime": DATETIME}
# HubSpot (type, fieldType) per value family.
_HUBSPOT_TYPES = {
    TEXT: ("string", "text"),
    NUMBER: ("number", "number"),
    BOOLEAN: ("bool", "booleancheckbox"),
    DATE: ("date", "date"),
    DATETIME: ("datetime", "date"),
    MULTI: ("enumeration", "checkbox"),
}
GROUPS = {"contacts": "contactinformation", "companies": "companyinformation", "deals": "dealinformation"}


def remote_from_properties(object_type: str, properties: list[dict[str, Any]]) -> RemoteObject:
    """A ``RemoteObject`` from ``GET /crm/v3/properties/{object}`` results (as dicts)."""
    remote = RemoteObject("hubspot", object_type, sends_text=True)  # every value travels as text
    for prop in properties:
        kind, field_type = str(prop.get("type", "string")), str(prop.get("fieldType") or "")
        family = _HUBSPOT_FAMILIES.get(kind, TEXT)
        if kind == "enumeration":
            family = {"checkbox": MULTI, "booleancheckbox": BOOLEAN}.get(field_type, TEXT)
        meta = prop.get("modificationMetadata") or {}
        remote.fields[prop["name"]] = RemoteField(
            name=prop["name"],
            type=f"{kind}/{field_type}" if field_type else kind,
            family=family,
            picklist=tuple(str(o["value"]) for o in prop.get("options") or [] if not o.get("hidden")),
            writable=not (meta.get("readOnlyValue") or prop.get("calculated")),
            label=str(prop.get("label") or ""),
        )
    return remote


def _option(value: str, order: int) -> dict[str, Any]:
    return {"label": value, "value": value, "displayOrder": order, "hidden": False}


def property_bodies(object_type: str, specs: Sequence[FieldSpec]) -> list[dict[str, Any]]:
    """``POST /crm/v3/properties/{object}`` bodies for every missing property.

    Value-mapped fields become single-select enumerations with the map's remote values; booleans
    get HubSpot's required true/false options; our lead id is unique (it keys upserts).
    """
    bodies = []
    for spec in specs:
        kind, field_type = _HUBSPOT_TYPES[spec.family]
        options: list[dict[str, Any]] = []
        if spec.options and spec.family in (TEXT, MULTI):
            kind, field_type = "enumeration", "select" if spec.family == TEXT else "checkbox"
            options = [_option(value, order) for order, value in enumerate(spec.options)]
        elif spec.family == BOOLEAN:
            options = [_option("true", 0) | {"label": "Yes"}, _option("false", 1) | {"label": "No"}]
        bodies.append(
            {
                "name": spec.name,
                "label": spec.label,
                "type": kind,
                "fieldType": field_type,
                "groupName": GROUPS.get(object_type, "contactinformation"),
                "description": "Created by leadbridge (mappings check --fix).",
                "options": options,
                "hasUniqueValue": spec.unique,
            }
        )
    return bodies
