"""The canonical fields a mapping may address, derived from the models so they never drift.

Paths: a ``Lead`` field (``email``), a nested field (``address.city``, ``consent.marketing``), a
custom field (``custom.<name>``) or a write-back field (``status.partner_name``). Each field has a
kind (what type the canonical value has), the side that owns it by default, and whether it
identifies the person or company — identity never goes to a partner before it accepted the lead.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from leadbridge.core.model import Address, Consent, Lead
from leadbridge.core.writeback import LeadStatusRecord


class Owner(StrEnum):
    """Which side is master of a field: its value there wins, the other side only reads it."""

    MANUFACTURER = "manufacturer"
    PARTNER = "partner"
    LEADBRIDGE = "leadbridge"


@dataclass(frozen=True)
class CanonicalField:
    path: str
    kind: str  # str, int, float, decimal, bool, date, datetime, list, enum, any
    choices: tuple[str, ...] = ()
    owner: Owner = Owner.MANUFACTURER
    identity: bool = False


CUSTOM_PREFIX = "custom."
STATUS_PREFIX = "status."
_CUSTOM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# Lead fields leadbridge sets itself; a mapping may not fill them.
_NOT_MAPPABLE = {"id", "source_connection", "custom", "address", "consent"}
# Fields that identify the person or the company; hidden from a partner until it accepts.
_IDENTITY = {
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "title",
    "company",
    "website",
    "account_id",
    "owner",
    "address.street",
    "address.latitude",
    "address.longitude",
}
# Write-back fields the partner is master of (its CRM reports them); the rest are leadbridge's.
_PARTNER_OWNED = {"partner_status", "outcome", "reason", "expected_revenue", "close_date", "next_follow_up"}
_SCALARS: dict[Any, str] = {
    str: "str",
    int: "int",
    float: "float",
    Decimal: "decimal",
    bool: "bool",
    date: "date",
    datetime: "datetime",
}


def _kind(annotation: Any) -> tuple[str, tuple[str, ...]]:
    """The kind of a model annotation, unwrapping ``X | None``."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        annotation = members[0] if len(members) == 1 else Any
    if typing.get_origin(annotation) is list:
        return "list", ()
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return "enum", tuple(str(member.value) for member in annotation)
    if annotation in _SCALARS:
        return _SCALARS[annotation], ()
    return "str", ()  # EmailStr and other string-like types


def _fields_of(model: type[BaseModel], prefix: str) -> list[tuple[str, Any]]:
    return [(prefix + name, info.annotation) for name, info in model.model_fields.items()]


@lru_cache(maxsize=1)
def canonical_fields() -> dict[str, CanonicalField]:
    """Every addressable canonical path except ``custom.<name>`` (see ``lookup``)."""
    entries = [
        *_fields_of(Lead, ""),
        *_fields_of(Address, "address."),
        *_fields_of(Consent, "consent."),
        *_fields_of(LeadStatusRecord, STATUS_PREFIX),
    ]
    result: dict[str, CanonicalField] = {}
    for path, annotation in entries:
        if path in _NOT_MAPPABLE:
            continue
        kind, choices = _kind(annotation)
        owner = Owner.MANUFACTURER
        if path.startswith(STATUS_PREFIX):
            owner = Owner.PARTNER if path[len(STATUS_PREFIX) :] in _PARTNER_OWNED else Owner.LEADBRIDGE
        result[path] = CanonicalField(path, kind, choices, owner, identity=path in _IDENTITY)
    return result


def lookup(path: str) -> CanonicalField | None:
    """The canonical field for a path, ``custom.<name>`` included; ``None`` if there is no such field."""
    if path.startswith(CUSTOM_PREFIX):
        name = path[len(CUSTOM_PREFIX) :]
        return CanonicalField(path, "any") if _CUSTOM_NAME.match(name) else None
    return canonical_fields().get(path)


def suggest(path: str) -> str:
    """A 'did you mean' hint for an unknown path, or an empty string."""
    import difflib

    known = list(canonical_fields())
    close = [name for name in known if name.endswith("." + path)] or difflib.get_close_matches(
        path, known, n=1
    )
    return f" (did you mean {close[0]!r}?)" if close else ""
