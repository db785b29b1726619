"""The property catalogue of one portal: standard and custom properties, groups, value checks.

HubSpot stores every property value as a string (crm-api-notes §4.1); the type of the *definition*
decides how a value is validated on write and compared in search. Standard properties come from
the tables below; custom ones are created through ``POST /crm/v3/properties/{obj}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from leadbridge.sandbox.hubspot.errors import (
    CONFLICT,
    HubSpotError,
    InvalidProperty,
    invalid_properties,
    validation_error,
)
from leadbridge.sandbox.hubspot.objects import OBJECT_TYPES, iso, parse_moment

TYPES = ("string", "number", "date", "datetime", "enumeration", "bool", "phone_number")
FIELD_TYPES = [
    "text",
    "textarea",
    "number",
    "date",
    "file",
    "select",
    "radio",
    "checkbox",
    "booleancheckbox",
    "calculation_equation",
    "html",
    "phonenumber",
]
_NAME = re.compile(r"[a-z][a-z0-9_]{0,99}")
_DAY_MS = 86_400_000

# Calculated by HubSpot itself: writing them is refused with READ_ONLY_VALUE.
READ_ONLY = frozenset({"hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"})

LIFECYCLE_STAGES = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]
LEAD_STATUSES = [
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
]
DEAL_STAGES = [
    "appointmentscheduled",
    "qualifiedtobuy",
    "presentationscheduled",
    "decisionmakerboughtin",
    "contractsent",
    "closedwon",
    "closedlost",
]


@dataclass(frozen=True)
class PropertyDef:
    """One property definition (the ``ModelProperty`` of the properties API)."""

    name: str
    label: str
    type: str = "string"
    field_type: str = "text"
    group_name: str = ""
    description: str = ""
    options: tuple[dict[str, Any], ...] = ()
    has_unique_value: bool = False
    hubspot_defined: bool = True
    external_options: bool = False
    hidden: bool = False
    form_field: bool = False
    display_order: int = -1
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def read_only(self) -> bool:
        return self.name in READ_ONLY

    def to_json(self) -> dict[str, Any]:
        """The wire shape (every field the client's ModelProperty requires)."""
        stamps = {}
        if self.created_at is not None:
            stamps["createdAt"] = iso(self.created_at)
        if self.updated_at is not None:
            stamps["updatedAt"] = iso(self.updated_at)
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "fieldType": self.field_type,
            "groupName": self.group_name,
            "description": self.description,
            "options": list(self.options),
            "displayOrder": self.display_order,
            "calculated": self.read_only,
            "externalOptions": self.external_options,
            "hasUniqueValue": self.has_unique_value,
            "hidden": self.hidden,
            "hubspotDefined": self.hubspot_defined,
            "formField": self.form_field,
            "archived": False,
            "modificationMetadata": {
                "archivable": not self.hubspot_defined,
                "readOnlyDefinition": self.hubspot_defined,
                "readOnlyValue": self.read_only,
                "readOnlyOptions": self.hubspot_defined and self.type == "enumeration",
            },
            **stamps,
        }

    def check(self, value: str) -> InvalidProperty | None:
        """Why ``value`` is not valid for this property, or None. ``""`` (clearing) is always valid."""
        if value == "":
            return None
        problem: tuple[str, str] | None = None
        if self.type == "number":
            try:
                float(value)
            except ValueError:
                problem = ("INVALID_INTEGER", f"'{value}' is not a valid number")
        elif self.type == "bool" and value.lower() not in ("true", "false"):
            problem = ("INVALID_BOOLEAN", f"'{value}' is not a valid boolean")
        elif self.type == "date" and not _is_date(value):
            problem = ("INVALID_DATE", f"'{value}' is not a valid date (midnight UTC epoch ms or YYYY-MM-DD)")
        elif self.type == "datetime" and parse_moment(value) is None:
            problem = ("INVALID_DATE", f"'{value}' is not a valid datetime")
        elif self.type == "enumeration" and not self.external_options:
            allowed = [str(option["value"]) for option in self.options]
            chosen = value.split(";") if self.field_type == "checkbox" else [value]
            wrong = [choice for choice in chosen if choice not in allowed]
            if wrong:
                problem = ("INVALID_OPTION", f"{wrong[0]!r} was not one of the allowed options: {allowed}")
        if problem is None:
            return None
        return InvalidProperty(self.name, problem[0], problem[1])


def _is_date(value: str) -> bool:
    if value.isdigit():
        return int(value) % _DAY_MS == 0
    return re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None and parse_moment(value) is not None


def options(values: list[str] | tuple[str, ...]) -> tuple[dict[str, Any], ...]:
    """Enumeration options in HubSpot's shape, labelled by their value."""
    return tuple(
        {"label": value, "value": value, "displayOrder": order, "hidden": False, "description": ""}
        for order, value in enumerate(values)
    )


def _standard(group: str, spec: str) -> list[PropertyDef]:
    """Parse ``name:type:fieldType`` triples (type/fieldType default to string/text)."""
    defs = []
    for item in spec.split():
        name, kind, field_type = ([*item.split(":"), "string", "text"])[:3]
        defs.append(PropertyDef(name, name.replace("_", " ").title(), kind, field_type, group))
    return defs


_COMMON = (
    "phone address city zip state country industry createdate:datetime:date hs_object_id:number:number "
    "hubspot_owner_id:enumeration:select"
)
_STANDARD: dict[str, tuple[str, str]] = {
    "contacts": (
        "contactinformation",
        f"email firstname lastname mobilephone company jobtitle website annualrevenue:number:number "
        f"lifecyclestage:enumeration:radio hs_lead_status:enumeration:radio lastmodifieddate:datetime:date "
        f"hs_language {_COMMON}",
    ),
    "companies": (
        "companyinformation",
        f"name domain website description numberofemployees:number:number annualrevenue:number:number "
        f"lifecyclestage:enumeration:radio hs_lastmodifieddate:datetime:date {_COMMON}",
    ),
    "deals": (
        "dealinformation",
        "dealname amount:number:number closedate:datetime:date pipeline:enumeration:select "
        "dealstage:enumeration:radio description closed_lost_reason closed_won_reason "
        "hs_lastmodifieddate:datetime:date createdate:datetime:date hs_object_id:number:number "
        "hubspot_owner_id:enumeration:select",
    ),
}
_ENUMS = {
    "lifecyclestage": LIFECYCLE_STAGES,
    "hs_lead_status": LEAD_STATUSES,
    "dealstage": DEAL_STAGES,
    "pipeline": ["default"],
}


@dataclass
class Catalogue:
    """Properties and property groups of every object type in one portal."""

    now: datetime
    properties: dict[str, dict[str, PropertyDef]] = field(default_factory=dict)
    groups: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for obj, (group, spec) in _STANDARD.items():
            self.groups[obj] = {group: {"name": group, "label": group.title(), "displayOrder": -1}}
            self.properties[obj] = {}
            for prop in _standard(group, spec):
                prop = replace(prop, created_at=self.now, updated_at=self.now)
                if prop.name in _ENUMS:
                    prop = replace(prop, options=options(_ENUMS[prop.name]))
                if prop.name == "hubspot_owner_id":
                    prop = replace(prop, external_options=True)  # options are the portal's owners
                if prop.name == "email":
                    prop = replace(prop, has_unique_value=True)
                self.properties[obj][prop.name] = prop
        assert set(self.properties) == set(OBJECT_TYPES)

    # -- reading -----------------------------------------------------------------------------
    def get(self, obj: str, name: str) -> PropertyDef | None:
        return self.properties[obj].get(name)

    def require(self, obj: str, name: str) -> PropertyDef:
        """The property, or 404 like ``GET /crm/v3/properties/{obj}/{name}`` of an unknown one."""
        prop = self.get(obj, name)
        if prop is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find property {name} for {obj}")
        return prop

    def unique(self, obj: str) -> list[str]:
        """Properties whose values must be unique (usable as ``idProperty``)."""
        return [p.name for p in self.properties[obj].values() if p.has_unique_value]

    def validate(self, obj: str, values: dict[str, str], *, allow_read_only: bool = False) -> None:
        """Raise 400 'Property values were not valid' listing every unknown, read-only or bad value."""
        problems = []
        for name, value in values.items():
            prop = self.get(obj, name)
            if prop is None:
                problems.append(
                    InvalidProperty(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
            elif prop.read_only and not allow_read_only:
                problems.append(
                    InvalidProperty(name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property')
                )
            elif (problem := prop.check(value)) is not None:
                problems.append(problem)
        if problems:
            raise invalid_properties(problems)

    # -- writing -----------------------------------------------------------------------------
    def create(self, obj: str, body: dict[str, Any], now: datetime) -> PropertyDef:
        """Create a custom property from a ``PropertyCreate`` body; 409 when the name is taken."""
        name = str(body.get("name") or "")
        if not _NAME.fullmatch(name):
            raise validation_error(f"Property name '{name}' must be lowercase letters, digits and _")
        if name in self.properties[obj]:
            raise HubSpotError(409, CONFLICT, f"A property named '{name}' already exists.")
        kind, field_type = body.get("type"), body.get("fieldType")
        if kind not in TYPES or field_type not in FIELD_TYPES:
            raise validation_error(f"Invalid type '{kind}' / fieldType '{field_type}'")
        group = str(body.get("groupName") or "")
        if group not in self.groups[obj]:
            raise validation_error(f"Property group '{group}' does not exist")
        prop = PropertyDef(
            name=name,
            label=str(body.get("label") or name),
            type=kind,
            field_type=field_type,
            group_name=group,
            description=str(body.get("description") or ""),
            options=options([str(o["value"]) for o in body.get("options") or []]),
            has_unique_value=bool(body.get("hasUniqueValue")),
            hubspot_defined=False,
            hidden=bool(body.get("hidden")),
            form_field=bool(body.get("formField")),
            display_order=int(body.get("displayOrder", -1)),
            created_at=now,
            updated_at=now,
        )
        self.properties[obj][name] = prop
        return prop

    def update(self, obj: str, name: str, body: dict[str, Any], now: datetime) -> PropertyDef:
        """Change label, description, group, options, hidden or display order of a property."""
        prop = self.require(obj, name)
        changes: dict[str, Any] = {"updated_at": now}
        simple = {"label": "label", "description": "description", "hidden": "hidden"}
        for key, attr in simple.items():
            if key in body:
                changes[attr] = body[key]
        if "displayOrder" in body:
            changes["display_order"] = int(body["displayOrder"])
        if "groupName" in body:
            if body["groupName"] not in self.groups[obj]:
                raise validation_error(f"Property group '{body['groupName']}' does not exist")
            changes["group_name"] = body["groupName"]
        if "options" in body:
            changes["options"] = options([str(o["value"]) for o in body["options"] or []])
        updated = replace(prop, **changes)
        self.properties[obj][name] = updated
        return updated

    def archive(self, obj: str, name: str) -> None:
        """Remove a custom property; HubSpot-defined ones cannot be archived (400)."""
        prop = self.require(obj, name)
        if prop.hubspot_defined:
            raise validation_error(f"Property {name} is HubSpot-defined and cannot be archived")
        del self.properties[obj][name]

    def create_group(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a property group; 409 when the name is taken."""
        name = str(body.get("name") or "")
        if not _NAME.fullmatch(name):
            raise validation_error(f"Group name '{name}' must be lowercase letters, digits and _")
        if name in self.groups[obj]:
            raise HubSpotError(409, CONFLICT, f"A property group named '{name}' already exists.")
        group = {"name": name, "label": str(body.get("label") or name), "displayOrder": -1}
        group["displayOrder"] = int(body.get("displayOrder", -1))
        self.groups[obj][name] = group
        return group

    def group(self, obj: str, name: str) -> dict[str, Any]:
        """One group, or 404."""
        try:
            return self.groups[obj][name]
        except KeyError:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find property group {name}") from None
