"""How a connector describes a remote object's fields, and what creating missing fields yields.

``mappings`` compares a mapping with a ``RemoteObject`` (``mappings check``); each connector builds
one from its vendor's describe/properties answer, so the mapping code never sees a vendor client.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Value families: what kind of value travels, whatever the vendor calls the type.
TEXT, NUMBER, BOOLEAN, DATE, DATETIME, MULTI = "text", "number", "boolean", "date", "datetime", "multi"


@dataclass(frozen=True)
class RemoteField:
    name: str
    type: str  # the vendor's type name, for messages
    family: str
    picklist: tuple[str, ...] = ()
    writable: bool = True
    required: bool = False
    label: str = ""


@dataclass
class RemoteObject:
    """One object's fields as the remote system describes them.

    ``sends_text``: the system sends every value as text (HubSpot), so a text mapping reads any
    field type; a system sending typed JSON (Salesforce) needs matching families.
    """

    system: str
    object: str
    fields: dict[str, RemoteField] = field(default_factory=dict)
    sends_text: bool = False

    def get(self, name: str) -> RemoteField | None:
        # Salesforce names are case-insensitive; HubSpot's are lower case anyway.
        return self.fields.get(name) or self._folded.get(name.casefold())

    @property
    def _folded(self) -> dict[str, RemoteField]:
        return {key.casefold(): value for key, value in self.fields.items()}


@dataclass(frozen=True)
class FieldSpec:
    """A field a mapping needs and the remote object lacks, in vendor-neutral terms."""

    name: str
    label: str
    family: str
    options: tuple[str, ...] = ()  # picklist values (a value-mapped field)
    unique: bool = False  # leadbridge's lead id: upserts key on it


@dataclass(frozen=True)
class FieldFix:
    """What ``create_fields`` did: fields created through the API, and steps left for an admin."""

    created: tuple[str, ...] = ()
    instructions: tuple[str, ...] = ()
