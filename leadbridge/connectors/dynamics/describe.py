"""Dataverse column metadata as a ``ports.RemoteObject``, and the attribute metadata that creates a
missing column through the Web API (``POST EntityDefinitions(LogicalName='…')/Attributes``)."""

from __future__ import annotations

from typing import Any

from leadbridge.ports import BOOLEAN, DATE, DATETIME, NUMBER, TEXT, FieldSpec, RemoteField, RemoteObject

_FAMILIES = {
    "Integer": NUMBER,
    "BigInt": NUMBER,
    "Money": NUMBER,
    "Double": NUMBER,
    "Decimal": NUMBER,
    "Boolean": BOOLEAN,
    "DateTime": DATETIME,
}
_CHOICES = ("Picklist", "State", "Status")


def remote_from_attributes(logical: str, attributes: list[dict[str, Any]]) -> RemoteObject:
    """A ``RemoteObject`` from ``EntityDefinitions(LogicalName='…')/Attributes``. Choice columns are
    text with their option values (``"100000000"``…) as the picklist, so a value map is checked
    against them (the connector writes the mapped values as integers); a date-only column is a date."""
    remote = RemoteObject("dynamics", logical)
    for item in attributes:
        kind = str(item.get("AttributeType") or "String")
        options = ((item.get("OptionSet") or {}).get("Options")) or []
        family = TEXT if kind in _CHOICES else _FAMILIES.get(kind, TEXT)
        behavior = (item.get("DateTimeBehavior") or {}).get("Value")
        if kind == "DateTime" and (item.get("Format") == "DateOnly" or behavior == "DateOnly"):
            family = DATE
        name = str(item["LogicalName"])
        remote.fields[name] = RemoteField(
            name=name,
            type=kind,
            family=family,
            picklist=tuple(str(o.get("Value")) for o in options),
            writable=bool(item.get("IsValidForCreate", True) or item.get("IsValidForUpdate", True)),
            required=((item.get("RequiredLevel") or {}).get("Value")) == "SystemRequired",
            label=name,
        )
    return remote


def _label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}]}


def attribute_metadata(spec: FieldSpec) -> dict[str, Any]:
    """The Web API body creating ``spec`` as a column (text for text and multi-values)."""
    common = {"SchemaName": spec.name, "DisplayName": _label(spec.label), "RequiredLevel": {"Value": "None"}}
    if spec.family == NUMBER:
        return {"@odata.type": "Microsoft.Dynamics.CRM.DecimalAttributeMetadata", **common, "Precision": 2}
    if spec.family == BOOLEAN:
        return {
            "@odata.type": "Microsoft.Dynamics.CRM.BooleanAttributeMetadata",
            **common,
            "OptionSet": {
                "TrueOption": {"Value": 1, "Label": _label("Yes")},
                "FalseOption": {"Value": 0, "Label": _label("No")},
            },
        }
    if spec.family in (DATETIME, DATE):
        behavior = "DateOnly" if spec.family == DATE else "UserLocal"
        return {
            "@odata.type": "Microsoft.Dynamics.CRM.DateTimeAttributeMetadata",
            **common,
            "Format": "DateOnly" if spec.family == DATE else "DateAndTime",
            "DateTimeBehavior": {"Value": behavior},
        }
    return {
        "@odata.type": "Microsoft.Dynamics.CRM.StringAttributeMetadata",
        **common,
        "MaxLength": 200 if not spec.unique else 100,
        "FormatName": {"Value": "Text"},
    }
