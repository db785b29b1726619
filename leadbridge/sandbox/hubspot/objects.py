"""The HubSpot object types the stand-in serves, and HubSpot's time formats.

Each object type is small data (crm-api-notes §4.1/§4.2): its plural path name, the singular used
in webhook subscription types and association names, the object type id used by associations v4,
the last-modified property (``lastmodifieddate`` on contacts, ``hs_lastmodifieddate`` elsewhere) and
the properties returned when a request names none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class ObjectType:
    """One CRM object type as HubSpot names it on the wire."""

    name: str  # "contacts": the path segment in /crm/v3/objects/{name}
    singular: str  # "contact": webhook subscription types, association type names
    type_id: str  # "0-1": associations v4 fromObjectTypeId/toObjectTypeId
    modified_property: str
    default_properties: tuple[str, ...]
    searchable: tuple[str, ...]  # properties the free-text `query` of a search looks at


CONTACTS = ObjectType(
    "contacts",
    "contact",
    "0-1",
    "lastmodifieddate",
    ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    ("firstname", "lastname", "email", "phone", "company"),
)
COMPANIES = ObjectType(
    "companies",
    "company",
    "0-2",
    "hs_lastmodifieddate",
    ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    ("name", "domain", "website", "phone"),
)
DEALS = ObjectType(
    "deals",
    "deal",
    "0-3",
    "hs_lastmodifieddate",
    (
        "dealname",
        "amount",
        "closedate",
        "pipeline",
        "dealstage",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
    ("dealname",),
)
OBJECT_TYPES: dict[str, ObjectType] = {o.name: o for o in (CONTACTS, COMPANIES, DEALS)}

# Associations v4 paths accept the plural, the singular or the type id ("contacts", "contact", "0-1").
_ALIASES: dict[str, ObjectType] = {}
for _type in OBJECT_TYPES.values():
    _ALIASES.update({_type.name: _type, _type.singular: _type, _type.type_id: _type})


def object_type(name: str) -> ObjectType | None:
    """The object type for a path segment (plural, singular or type id, case-insensitive)."""
    return _ALIASES.get(name.lower())


def iso(moment: datetime) -> str:
    """HubSpot's timestamp format: UTC, millisecond precision, ``Z`` suffix."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def epoch_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (webhook ``occurredAt``, date filter values)."""
    return int(moment.timestamp() * 1000)


def parse_moment(value: str) -> float | None:
    """A date/datetime property or filter value as epoch milliseconds, or None if it is neither.

    HubSpot accepts epoch-ms strings and ISO 8601 (``2024-06-01``, ``2024-06-01T10:00:00.000Z``).
    """
    text = value.strip()
    if text.lstrip("-").isdigit():
        return float(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp() * 1000
