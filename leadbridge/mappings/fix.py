"""What ``mappings check --fix`` does with findings: HubSpot property bodies to create, and the
steps a Salesforce admin must take (custom fields cannot be created through the data API)."""

from __future__ import annotations

from typing import Any

from leadbridge.mappings.check import BOOLEAN, DATE, DATETIME, MULTI, NUMBER, TEXT, Finding

# HubSpot (type, fieldType) per value family.
_HUBSPOT_TYPES = {
    TEXT: ("string", "text"),
    NUMBER: ("number", "number"),
    BOOLEAN: ("bool", "booleancheckbox"),
    DATE: ("date", "date"),
    DATETIME: ("datetime", "date"),
    MULTI: ("enumeration", "checkbox"),
}
HUBSPOT_GROUPS = {
    "contacts": "contactinformation",
    "companies": "companyinformation",
    "deals": "dealinformation",
}
# Salesforce field type (as Setup names it) per value family.
_SALESFORCE_TYPES = {
    TEXT: "Text(255)",
    NUMBER: "Number(18, 2)",
    BOOLEAN: "Checkbox",
    DATE: "Date",
    DATETIME: "Date/Time",
    MULTI: "Picklist (Multi-Select)",
}
EXTERNAL_ID_FIELDS = {"LeadBridge_Id__c", "leadbridge_id"}


def _label(name: str) -> str:
    return name.removesuffix("__c").replace("_", " ").strip().title().replace("Leadbridge", "LeadBridge")


def _option(value: str, order: int) -> dict[str, Any]:
    return {"label": value, "value": value, "displayOrder": order, "hidden": False}


def missing_fields(findings: list[Finding]) -> list[Finding]:
    """One finding per missing remote field (a field read and written is reported twice)."""
    unique: dict[str, Finding] = {}
    for finding in findings:
        if finding.kind == "missing":
            unique.setdefault(finding.field.casefold(), finding)
    return list(unique.values())


def hubspot_property_bodies(object_type: str, findings: list[Finding]) -> list[dict[str, Any]]:
    """``POST /crm/v3/properties/{object}`` bodies for every missing property.

    Value-mapped fields become single-select enumerations with the map's remote values; booleans
    get HubSpot's required true/false options; our lead id is unique (it keys upserts).
    """
    bodies = []
    for finding in missing_fields(findings):
        kind, field_type = _HUBSPOT_TYPES[finding.family]
        options: list[dict[str, Any]] = []
        if finding.options and finding.family in (TEXT, MULTI):
            kind, field_type = "enumeration", "select" if finding.family == TEXT else "checkbox"
            options = [_option(value, order) for order, value in enumerate(finding.options)]
        elif finding.family == BOOLEAN:
            options = [_option("true", 0) | {"label": "Yes"}, _option("false", 1) | {"label": "No"}]
        bodies.append(
            {
                "name": finding.field,
                "label": _label(finding.field),
                "type": kind,
                "fieldType": field_type,
                "groupName": HUBSPOT_GROUPS.get(object_type, "contactinformation"),
                "description": "Created by leadbridge (mappings check --fix).",
                "options": options,
                "hasUniqueValue": finding.field in EXTERNAL_ID_FIELDS,
            }
        )
    return bodies


def salesforce_instructions(object_name: str, findings: list[Finding]) -> list[str]:
    """Plain steps for a Salesforce admin: fields to create, picklist values to add."""
    steps = []
    for finding in missing_fields(findings):
        kind = _SALESFORCE_TYPES[finding.family]
        if finding.options and finding.family == TEXT:
            kind = f"Picklist with values: {', '.join(finding.options)}"
        extra = ", External ID, Unique" if finding.field in EXTERNAL_ID_FIELDS else ""
        steps.append(
            f"Setup → Object Manager → {object_name} → Fields & Relationships → New: "
            f"label '{_label(finding.field)}', API name {finding.field}, type {kind}{extra}"
        )
    for finding in findings:
        if finding.kind in ("picklist", "type", "read_only"):
            steps.append(f"{object_name}.{finding.field}: {finding.message} — fix the field or the mapping")
    return steps
