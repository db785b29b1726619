"""The field catalogue of the Salesforce stand-in, as data: objects, fields, types, picklists.

Extend an org at runtime with ``Schema.add_field`` / ``Schema.add_picklist_values`` (a
"customised org" for mapping checks). Names are matched case-insensitively, as Salesforce does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

# Types whose values are text in JSON (and compared case-insensitively in SOQL).
TEXT_TYPES = frozenset(
    {
        "id",
        "string",
        "textarea",
        "email",
        "phone",
        "url",
        "picklist",
        "multipicklist",
        "reference",
        "combobox",
    }
)
NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
SYSTEM_FIELDS = (
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
)


@dataclass(frozen=True)
class FieldDef:
    """One field as describe reports it; ``required`` = not nillable, createable and not defaulted."""

    name: str
    type: str
    label: str = ""
    length: int = 0
    nillable: bool = True
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    picklist: tuple[str, ...] = ()
    default: str | bool | None = None
    restricted: bool = False
    reference_to: tuple[str, ...] = ()
    relationship_name: str | None = None
    precision: int = 0
    scale: int = 0
    defaulted: bool = False  # filled on create when absent (e.g. OwnerId = the calling user)
    compound: str | None = None  # the compound field this one is part of (``Address``, ``Name``)

    @property
    def custom(self) -> bool:
        """Custom fields end in ``__c``."""
        return self.name.endswith("__c")

    @property
    def required(self) -> bool:
        return (
            not self.nillable
            and self.createable
            and not self.defaulted
            and self.default is None
            and self.type != "boolean"
        )

    def describe(self) -> dict[str, object]:
        """The field's entry in ``…/sobjects/{obj}/describe``: Salesforce's 57 keys, with the values
        a standard Enterprise org reports for such a field (features the stand-in lacks — formulas,
        encryption, dependent picklists, help text — are reported as absent)."""
        kind = self.type
        texty = kind in _BYTE_TYPES
        return {
            "aggregatable": kind not in ("textarea", "multipicklist", "address", "boolean"),
            "aiPredictionField": False,
            "autoNumber": False,
            "byteLength": self.length if kind in ("id", "reference") else self.length * 3 if texty else 0,
            "calculated": False,
            "calculatedFormula": None,
            "cascadeDelete": False,
            "caseSensitive": False,
            "compoundFieldName": self.compound,
            "controllerName": None,
            "createable": self.createable,
            "custom": self.custom,
            "defaultValue": self.default,
            "defaultValueFormula": None,
            "defaultedOnCreate": self.defaulted or self.default is not None or self.name in SYSTEM_FIELDS,
            "dependentPicklist": False,
            "deprecatedAndHidden": False,
            "digits": self.precision if kind == "int" else 0,
            "displayLocationInDecimal": False,
            "encrypted": False,
            "externalId": self.external_id,
            "extraTypeInfo": _EXTRA_TYPE_INFO.get(kind),
            "filterable": kind != "textarea" or self.length <= 255,
            "filteredLookupInfo": None,
            "formulaTreatNullNumberAsZero": False,
            "groupable": kind in _GROUPABLE and (kind != "textarea" or self.length <= 255),
            "highScaleNumber": False,
            "htmlFormatted": False,
            "idLookup": self.name == "Id" or self.external_id,
            "inlineHelpText": None,
            "label": self.label or label_for(self.name),
            "length": self.length,
            "mask": None,
            "maskType": None,
            "name": self.name,
            "nameField": self.name == "Name",
            "namePointing": len(self.reference_to) > 1,
            "nillable": self.nillable,
            "permissionable": self.custom and self.nillable,
            "picklistValues": [
                {
                    "active": True,
                    "defaultValue": value == self.default,
                    "label": value,
                    "validFor": None,
                    "value": value,
                }
                for value in self.picklist
            ],
            "polymorphicForeignKey": len(self.reference_to) > 1,
            "precision": 0 if kind == "int" else self.precision,
            "queryByDistance": False,
            "referenceTargetField": None,
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
            "relationshipOrder": None,
            "restrictedDelete": False,
            "restrictedPicklist": self.restricted,
            "scale": self.scale,
            "searchPrefilterable": False,
            "soapType": _SOAP_TYPES.get(kind, "xsd:string"),
            "sortable": kind not in ("textarea", "multipicklist", "address"),
            "type": kind,
            "unique": self.unique,
            "updateable": self.updateable,
            "writeRequiresMasterRead": False,
        }


# Types whose byteLength is 3 bytes per character (UTF-8), and the ones SOQL can GROUP BY.
_BYTE_TYPES = frozenset(
    {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox"}
)
_GROUPABLE = frozenset(
    {"id", "reference", "string", "email", "phone", "url", "picklist", "combobox", "boolean", "date", "int"}
)
_EXTRA_TYPE_INFO = {"textarea": "plaintextarea"}
# Standard field labels that are not simply the API name's words (Setup's labels, English org).
_LABELS = {
    "Id": "Record ID",
    "IsDeleted": "Deleted",
    "CreatedById": "Created By ID",
    "LastModifiedById": "Last Modified By ID",
    "OwnerId": "Owner ID",
    "NumberOfEmployees": "Employees",
    "HasOptedOutOfEmail": "Email Opt Out",
    "DoNotCall": "Do Not Call",
    "PostalCode": "Zip/Postal Code",
    "State": "State/Province",
    "Street": "Street",
    "IsConverted": "Converted",
    "ConvertedAccountId": "Converted Account ID",
    "ConvertedContactId": "Converted Contact ID",
    "AccountId": "Account ID",
    "ParentId": "Parent Account ID",
    "WhoId": "Name ID",
    "WhatId": "Related To ID",
    "ActivityDate": "Due Date Only",
    "IsClosed": "Closed",
    "IsActive": "Active",
    "Type": "Type",
}


def label_for(name: str) -> str:
    """A field's label: Setup's for the standard fields above, else the API name's words
    (``LeadSource`` → ``Lead Source``, ``Campaign_Name__c`` → ``Campaign Name``)."""
    if name in _LABELS:
        return _LABELS[name]
    base = name.removesuffix("__c").replace("_", " ")
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", base)
    return re.sub(r"\bId$", "ID", words)


_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "percent": "xsd:double",
    "date": "xsd:date",
    "datetime": "xsd:dateTime",
    "address": "urn:address",
}


@dataclass
class ObjectDef:
    """One sObject type: name, key prefix (first 3 id characters) and its fields by lower-case name."""

    name: str
    key_prefix: str
    fields: dict[str, FieldDef] = field(default_factory=dict)

    def field(self, name: str) -> FieldDef | None:
        """A field by name, case-insensitively (None if absent)."""
        return self.fields.get(name.lower())

    def add(self, definition: FieldDef) -> None:
        """Add or replace a field definition."""
        self.fields[definition.name.lower()] = definition

    def external_ids(self) -> list[FieldDef]:
        """The fields upserts may key on."""
        return [f for f in self.fields.values() if f.external_id]

    def relationship(self, name: str) -> FieldDef | None:
        """The reference field whose relationship name is ``name`` (``Owner`` → ``OwnerId``)."""
        lowered = name.lower()
        for definition in self.fields.values():
            if definition.relationship_name and definition.relationship_name.lower() == lowered:
                return definition
        return None


class Schema:
    """All sObject types of one org (``catalogue.standard_schema()`` builds the standard one)."""

    def __init__(self, objects: list[ObjectDef]) -> None:
        self.objects: dict[str, ObjectDef] = {obj.name.lower(): obj for obj in objects}

    def get(self, name: str) -> ObjectDef | None:
        """An object by name, case-insensitively (None if absent)."""
        return self.objects.get(name.lower())

    def by_prefix(self, record_id: str) -> ObjectDef | None:
        """The object whose key prefix starts ``record_id`` (ids carry their type)."""
        return next((o for o in self.objects.values() if record_id.startswith(o.key_prefix)), None)

    def add_field(self, object_name: str, definition: FieldDef) -> FieldDef:
        """Add (or replace) a field on an object: how tests build a customised org.

        Custom fields must end in ``__c``, as in Salesforce.
        """
        obj = self._require(object_name)
        if not definition.name.endswith("__c"):
            raise ValueError(f"custom field names end in '__c': {definition.name!r}")
        obj.add(definition)
        return definition

    def add_picklist_values(self, object_name: str, field_name: str, *values: str) -> FieldDef:
        """Append values to a picklist (existing values are kept, duplicates ignored)."""
        obj = self._require(object_name)
        current = obj.field(field_name)
        if current is None or current.type not in ("picklist", "multipicklist"):
            raise ValueError(f"{object_name}.{field_name} is not a picklist")
        merged = current.picklist + tuple(v for v in values if v not in current.picklist)
        updated = replace(current, picklist=merged)
        obj.add(updated)
        return updated

    def _require(self, object_name: str) -> ObjectDef:
        obj = self.get(object_name)
        if obj is None:
            raise KeyError(
                f"no sObject {object_name!r}; known: {sorted(o.name for o in self.objects.values())}"
            )
        return obj
