"""JSON shapes shared by the REST handlers: record attributes, full records, describe results."""

from __future__ import annotations

from typing import Any

from leadbridge.sandbox.salesforce.records import Record
from leadbridge.sandbox.salesforce.schema import ObjectDef
from leadbridge.sandbox.salesforce.values import to_json


def attributes(object_name: str, record_id: str, version: str) -> dict[str, str]:
    """The ``attributes`` block every REST record carries."""
    return {"type": object_name, "url": f"/services/data/v{version}/sobjects/{object_name}/{record_id}"}


def record_json(
    obj: ObjectDef, record: Record, version: str, fields: list[str] | None = None
) -> dict[str, Any]:
    """A record as GET returns it: attributes, then every (or the requested) field, nulls included."""
    out: dict[str, Any] = {"attributes": attributes(obj.name, record["Id"], version)}
    for definition in obj.fields.values():
        if fields is None or definition.name.lower() in fields:
            if definition.type == "address":
                out[definition.name] = compound_address(obj, record, definition.name)
            else:
                out[definition.name] = to_json(record.get(definition.name))
    return out


def compound_address(obj: ObjectDef, record: Record, name: str) -> dict[str, Any] | None:
    """The value of a compound address field, from its components (null when they all are)."""
    prefix = name.removesuffix("Address")
    value = {
        key[len(prefix) :][:1].lower() + key[len(prefix) + 1 :]: to_json(record.get(key))
        for key in (d.name for d in obj.fields.values() if d.compound == name)
    }
    return dict(sorted(value.items())) if any(v is not None for v in value.values()) else None


def describe_object(obj: ObjectDef, version: str, *, with_fields: bool = True) -> dict[str, Any]:
    """An object's describe (``with_fields=False``: the short form of describe global)."""
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    data: dict[str, Any] = {
        "name": obj.name,
        "label": obj.name,
        "labelPlural": f"{obj.name}s",
        "keyPrefix": obj.key_prefix,
        "custom": obj.name.endswith("__c"),
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "retrieveable": True,
        "searchable": True,
        "replicateable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }
    if with_fields:
        data["fields"] = [f.describe() for f in obj.fields.values()]
        data["recordTypeInfos"] = []
        data["childRelationships"] = []
    return data
