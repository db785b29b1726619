"""The field catalogue of the Salesforce stand-in, as data: objects, fields, types, picklists.

Extend an org at runtime with ``Schema.add_field`` / ``Schema.add_picklist_values`` (a
"customised org" for mapping checks). Names are matched case-insensitively, as Salesforce does.
"""

from __future__ import annotations

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
        """The field's entry in ``…/sobjects/{obj}/describe`` (the keys clients actually read)."""
        return {
            "name": self.name,
            "label": self.label or self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "precision": self.precision,
            "scale": self.scale,
            "custom": self.custom,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "defaultedOnCreate": self.defaulted or self.default is not None or self.name in SYSTEM_FIELDS,
            "defaultValue": self.default,
            "externalId": self.external_id,
            "unique": self.unique,
            "idLookup": self.name == "Id" or self.external_id,
            "filterable": self.type != "textarea" or self.length <= 255,
            "sortable": self.type not in ("textarea", "multipicklist"),
            "restrictedPicklist": self.restricted,
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
            "referenceTo": list(self.reference_to),
            "relationshipName": self.relationship_name,
        }


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
