"""Check a mapping against the live object description (Salesforce describe, HubSpot properties).

Pure: ``check_mapping(mapping, remote)`` compares and returns findings; fetching the description
is the connector's job (its ``describe`` verb builds the ``ports.RemoteObject``).
Rules:
- every remote field the mapping reads or writes must exist (``missing``, an error);
- a written field must be writable (``read_only``, an error), and the value family the mapping
  produces must suit the remote type (``type``, an error: text, number, boolean, date, date-time,
  multi-select);
- a picklist the mapping reads through a value map must be covered: with ``unknown: error`` an
  uncovered value quarantines records (an error), otherwise it is a warning; a value map must not
  write values the picklist does not have (an error);
- a required remote field the mapping never writes is a warning (creating records will fail).
"""

from __future__ import annotations

from dataclasses import dataclass

from leadbridge.mappings.canonical import lookup
from leadbridge.mappings.schema import IN, OUT, FieldMapping, Mapping, Side
from leadbridge.mappings.transforms.values import ValueMap
from leadbridge.ports.remote import BOOLEAN, DATE, DATETIME, MULTI, NUMBER, TEXT, RemoteField, RemoteObject

_KIND_FAMILIES = {
    "int": NUMBER,
    "float": NUMBER,
    "decimal": NUMBER,
    "bool": BOOLEAN,
    "date": DATE,
    "datetime": DATETIME,
    "list": MULTI,
}
_STEP_FAMILIES = {
    "number": NUMBER,
    "currency": NUMBER,
    "boolean": BOOLEAN,
    "date": DATE,
    "datetime": DATETIME,
    "list": MULTI,
    "template": TEXT,
    "join_name": TEXT,
    "value_map": TEXT,
    "country": TEXT,
    "phone": TEXT,
    "email": TEXT,
}
# Families a remote type can hold besides its own: text fields take anything HubSpot sends as text.
_COMPATIBLE = {TEXT: {TEXT}, NUMBER: {NUMBER}, BOOLEAN: {BOOLEAN}, DATE: {DATE}, DATETIME: {DATETIME, DATE}}
_COMPATIBLE[MULTI] = {MULTI, TEXT}


@dataclass(frozen=True)
class Finding:
    severity: str  # error | warning
    kind: str  # missing | read_only | type | picklist | required
    field: str
    message: str
    line: int = 0
    direction: str = ""
    family: str = TEXT  # for missing fields: what to create
    options: tuple[str, ...] = ()


def value_family(entry: FieldMapping, side: Side) -> str:
    """The family of the value on the remote side: from the transforms, else the canonical kind."""
    # Inbound the first step meets the remote value; outbound the last step produces it.
    for step in side.steps if side.direction == IN else side.steps[::-1]:
        family = _STEP_FAMILIES.get(step.name)
        if family is not None:
            return family
    canonical = lookup(entry.canonical) if entry.canonical else None
    return _KIND_FAMILIES.get(canonical.kind, TEXT) if canonical else TEXT


def _fits(remote_family: str, family: str, direction: str, sends_text: bool) -> bool:
    """Whether values of ``remote_family`` and the mapping's ``family`` go together that way.

    Inbound, text parses into anything, and HubSpot sends every value as text, so anything reads
    into a text field there; Salesforce sends typed JSON, which a text field would refuse.
    """
    if remote_family in _COMPATIBLE[family]:
        return True
    return direction == IN and (remote_family == TEXT or (sends_text and family == TEXT))


def _value_map(side: Side) -> ValueMap | None:
    return next((s.transform for s in side.steps if isinstance(s.transform, ValueMap)), None)


def _check_side(entry: FieldMapping, side: Side, remote: RemoteObject) -> list[Finding]:
    name = side.field
    if not name:
        return []
    found = remote.get(name)
    family = value_family(entry, side)
    value_map = _value_map(side)
    if found is None:
        options = tuple(value_map.backward.values()) if value_map else ()
        message = (
            f"{remote.object}.{name} does not exist ({'read' if side.direction == IN else 'written'} here)"
        )
        return [Finding("error", "missing", name, message, side.line, side.direction, family, options)]
    findings: list[Finding] = []
    if side.direction == OUT and not found.writable:
        findings.append(Finding("error", "read_only", name, f"{name} is read-only", side.line, OUT))
    if not _fits(found.family, family, side.direction, remote.sends_text):
        findings.append(
            Finding(
                "error",
                "type",
                name,
                f"{name} is {found.type}, but the mapping {'reads' if side.direction == IN else 'writes'} "
                f"a {family} value",
                side.line,
                side.direction,
            )
        )
    if value_map and found.picklist:
        findings.extend(_check_picklist(value_map, found, side))
    return findings


def _check_picklist(value_map: ValueMap, found: RemoteField, side: Side) -> list[Finding]:
    findings = []
    if side.direction == IN:
        uncovered = [v for v in found.picklist if value_map.fold(v) not in value_map.forward]
        if uncovered:
            strict = value_map.args.unknown == "error"
            consequence = (
                "records with them are quarantined" if strict else f"unknown: {value_map.args.unknown}"
            )
            findings.append(
                Finding(
                    "error" if strict else "warning",
                    "picklist",
                    found.name,
                    f"picklist values of {found.name} not in the value map: "
                    f"{', '.join(map(repr, uncovered))} ({consequence})",
                    side.line,
                    IN,
                )
            )
    else:
        allowed = {value.casefold() for value in found.picklist}
        written = [str(v) for v in value_map.backward.values() if str(v).casefold() not in allowed]
        if written:
            findings.append(
                Finding(
                    "error",
                    "picklist",
                    found.name,
                    f"the value map writes {', '.join(map(repr, written))}: not values of {found.name}",
                    side.line,
                    OUT,
                )
            )
    return findings


def check_mapping(mapping: Mapping, remote: RemoteObject) -> list[Finding]:
    """Compare a mapping with a remote object description; see the module rules."""
    findings: list[Finding] = []
    if remote.get(mapping.key) is None:
        findings.append(
            Finding("error", "missing", mapping.key, f"key field {mapping.key} does not exist", 1)
        )
    for entry in mapping.fields:
        for side in (entry.inbound, entry.outbound):
            if side is not None:
                findings.extend(_check_side(entry, side, remote))
    written = {
        entry.outbound.field.casefold() for entry in mapping.fields if entry.outbound and entry.outbound.field
    }
    if any(entry.outbound for entry in mapping.fields):
        for item in remote.fields.values():
            if item.required and item.name.casefold() not in written:
                findings.append(
                    Finding("warning", "required", item.name, f"{item.name} is required but never written")
                )
    return findings
