"""Records of one object type in one portal: create, read, update, archive, unique values, paging.

Rules applied (crm-api-notes §4.1): values are stored as strings (``""`` clears a value); emails
are kept lower-case; ``hs_object_id``, ``createdate`` and the type's last-modified property are
maintained by the store; properties with ``hasUniqueValue`` (e.g. ``email``, a custom
``leadbridge_id``) refuse a second live record with the same value (409 ``CONFLICT``). Callers
hold the portal lock; the store itself is not thread-safe.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from leadbridge.sandbox.hubspot.catalogue import Catalogue
from leadbridge.sandbox.hubspot.errors import CONFLICT, HubSpotError, not_found, validation_error
from leadbridge.sandbox.hubspot.objects import ObjectType, iso, parse_moment

# Who made a change, as property history and webhook events report it.
API, CRM_UI, IMPORT = "API", "CRM_UI", "IMPORT"


def wire_value(value: Any) -> str:
    """A JSON property value as HubSpot stores it: always a string, booleans as ``true``/``false``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass
class Record:
    """One CRM object: id, string properties, timestamps, archive flag and property history."""

    id: str
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    archived_at: datetime | None = None
    history: dict[str, list[tuple[str, datetime, str]]] = field(default_factory=dict)

    def to_json(
        self,
        names: Iterable[str],
        *,
        always: Iterable[str] = (),
        history: Iterable[str] = (),
    ) -> dict[str, Any]:
        """The ``SimplePublicObject`` shape with the named properties (absent ones as null)."""
        wanted = dict.fromkeys([*names, *always])
        data: dict[str, Any] = {
            "id": self.id,
            "properties": {name: self.properties.get(name) for name in wanted},
            "createdAt": iso(self.created_at),
            "updatedAt": iso(self.updated_at),
            "archived": self.archived,
        }
        if self.archived_at is not None:
            data["archivedAt"] = iso(self.archived_at)
        with_history = [name for name in history if name in self.history]
        if with_history:
            data["propertiesWithHistory"] = {
                name: [
                    {"value": value, "timestamp": iso(stamp), "sourceType": source}
                    for value, stamp, source in reversed(self.history[name])
                ]
                for name in with_history
            }
        return data


class ObjectStore:
    """Every record of one object type in one portal (archived ones kept, flagged)."""

    def __init__(self, kind: ObjectType, catalogue: Catalogue, first_id: int) -> None:
        self.kind = kind
        self.catalogue = catalogue
        self.records: dict[str, Record] = {}
        self._next_id = first_id
        self._index: dict[str, dict[str, str]] = {}  # unique property → lower-cased value → id

    # -- reading -----------------------------------------------------------------------------
    def live(self) -> Iterator[Record]:
        """Records not archived, in creation order."""
        return (record for record in self.records.values() if not record.archived)

    def always_returned(self) -> tuple[str, ...]:
        """Properties HubSpot includes whatever was requested."""
        return ("hs_object_id", "createdate", self.kind.modified_property)

    def get(self, object_id: str, *, id_property: str | None = None, archived: bool = False) -> Record:
        """A record by id (or by a unique ``id_property``); 404 when missing or archived-ness differs."""
        if id_property and id_property != "hs_object_id":
            record = self.find(id_property, object_id)
        else:
            record = self.records.get(object_id)
        if record is None or record.archived != archived:
            raise not_found(object_id)
        return record

    def find(self, id_property: str, value: str) -> Record | None:
        """The live record whose unique property ``id_property`` equals ``value`` (case-insensitive)."""
        if id_property not in self.catalogue.unique(self.kind.name):
            raise validation_error(
                f"{id_property} is not a unique property of {self.kind.name}; use one of "
                f"{self.catalogue.unique(self.kind.name)}",
                idProperty=[id_property],
            )
        found = self._unique_index(id_property).get(value.lower())
        return self.records.get(found) if found else None

    def page(
        self, after: str | None, limit: int, *, archived: bool = False
    ) -> tuple[list[Record], str | None]:
        """One page of ``get_page``: records with id ≥ ``after`` (numeric), and the next cursor."""
        start = int(after) if after and after.isdigit() else 0
        chosen = [r for r in self.records.values() if r.archived == archived and int(r.id) >= start]
        chosen.sort(key=lambda record: int(record.id))
        page = chosen[:limit]
        return page, (chosen[limit].id if len(chosen) > limit else None)

    # -- writing -----------------------------------------------------------------------------
    def prepare(self, values: Mapping[str, Any], *, trusted: bool = False) -> dict[str, str]:
        """Validate and normalise incoming property values (raises 400 listing every bad one)."""
        cleaned = {name: wire_value(value) for name, value in values.items()}
        if "email" in cleaned:
            cleaned["email"] = cleaned["email"].strip().lower()
        self.catalogue.validate(self.kind.name, cleaned, allow_read_only=trusted)
        return cleaned

    def check_unique(self, values: Mapping[str, str], *, own_id: str | None = None) -> None:
        """409 when a unique property value already belongs to another live record."""
        for name in self.catalogue.unique(self.kind.name):
            value = values.get(name)
            if not value:
                continue
            existing = self._unique_index(name).get(value.lower())
            if existing is not None and existing != own_id:
                if self.kind.name == "contacts" and name == "email":
                    message = f"Contact already exists. Existing ID: {existing}"
                else:
                    what = f"A {self.kind.singular} with {name} '{value}'"
                    message = f"{what} already exists. Existing ID: {existing}"
                raise HubSpotError(409, CONFLICT, message, context={"id": [existing]})

    def create(
        self, values: Mapping[str, Any], now: datetime, *, source: str = API, trusted: bool = False
    ) -> Record:
        """Create a record; ``trusted`` (seeding) may set read-only values such as a past createdate."""
        cleaned = self.prepare(values, trusted=trusted)
        self.check_unique(cleaned)
        object_id = str(self._next_id)
        self._next_id += 1
        created = now
        if cleaned.get("createdate"):
            created = _as_datetime(cleaned["createdate"], now)
        properties = {k: v for k, v in cleaned.items() if v != ""}
        properties |= {"hs_object_id": object_id, "createdate": iso(created)}
        properties[self.kind.modified_property] = iso(now)
        record = Record(object_id, properties, created, now)
        for name, value in properties.items():
            record.history[name] = [(value, now, source)]
        self.records[object_id] = record
        self._reindex(record, {})
        return record

    def update(
        self, record: Record, values: Mapping[str, Any], now: datetime, *, source: str = API
    ) -> dict[str, str]:
        """Apply new values to a live record; returns the properties whose value actually changed."""
        cleaned = self.prepare(values)
        self.check_unique(cleaned, own_id=record.id)
        before = dict(record.properties)
        changed = {k: v for k, v in cleaned.items() if record.properties.get(k, "") != v}
        for name, value in changed.items():
            if value == "":
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
            record.history.setdefault(name, []).append((value, now, source))
        if changed:
            record.updated_at = now
            record.properties[self.kind.modified_property] = iso(now)
            self._reindex(record, before)
        return changed

    def archive(self, record: Record, now: datetime) -> None:
        """Archive (soft-delete) a record; its unique values become free again."""
        if record.archived:
            return
        before = dict(record.properties)
        record.archived, record.archived_at = True, now
        record.updated_at = now
        self._reindex(record, before)

    # -- unique-value index ------------------------------------------------------------------
    def _unique_index(self, name: str) -> dict[str, str]:
        index = self._index.get(name)
        if index is None:  # a unique property created after records existed: build it now
            index = {
                record.properties[name].lower(): record.id
                for record in self.live()
                if record.properties.get(name)
            }
            self._index[name] = index
        return index

    def _reindex(self, record: Record, before: Mapping[str, str]) -> None:
        for name in self.catalogue.unique(self.kind.name):
            index = self._unique_index(name)
            old = before.get(name)
            if old and index.get(old.lower()) == record.id:
                del index[old.lower()]
            new = record.properties.get(name)
            if new and not record.archived:
                index[new.lower()] = record.id


def _as_datetime(value: str, default: datetime) -> datetime:
    millis = parse_moment(value)
    if millis is None:
        return default
    return datetime.fromtimestamp(millis / 1000, tz=default.tzinfo)
