"""The record store of one org: DML with Salesforce's validation rules, external-id lookups, undo.

Records are plain dicts keyed by the fields' canonical names and replaced (never mutated) on
write, so ``transaction()`` can roll a failed all-or-none batch back from an undo log. Deleted
records stay in their table with ``IsDeleted = True`` (queryAll and getDeleted see them).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.salesforce.errors import SalesforceApiError, invalid_type, not_found
from leadbridge.sandbox.salesforce.schema import FieldDef, ObjectDef, Schema
from leadbridge.sandbox.salesforce.values import coerce, id18, looks_like_id

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"  # ASCII order: ids sort by age
_NAME_OBJECTS = ("lead", "contact", "user")  # Name = FirstName + LastName

Record = dict[str, Any]


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
    return digits.rjust(width, "0")


class RecordStore:
    """All records of one org, with one lock: Salesforce DML semantics, not its performance."""

    def __init__(self, schema: Schema, clock: Clock, *, org_number: int) -> None:
        self.schema = schema
        self.clock = clock
        self.lock = threading.RLock()
        self._org_char = _BASE62[org_number % 62]
        self._counter = itertools.count(1)
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in schema.objects}
        self.deleted_at: dict[str, datetime] = {}
        self._indexes: dict[tuple[str, str], dict[str, set[str]]] = {}
        self._undo: list[tuple[str, str, Record | None, datetime | None]] | None = None
        # Object (lower case) → field whose equal value (case-insensitive) blocks a save.
        self.duplicate_rules: dict[str, str] = {}

    # -- lookup -----------------------------------------------------------------------------
    def object(self, name: str) -> ObjectDef:
        """The sObject type by name (case-insensitive); INVALID_TYPE if the org has no such object."""
        obj = self.schema.get(name)
        if obj is None:
            raise invalid_type(name)
        return obj

    def new_id(self, obj: ObjectDef) -> str:
        """A fresh 18-character id with the object's key prefix; ids sort in creation order."""
        return id18(f"{obj.key_prefix}5{self._org_char}{_base62(next(self._counter), 10)}")

    def get(self, obj: ObjectDef, record_id: str, *, include_deleted: bool = False) -> Record:
        """A live record by id; 404 NOT_FOUND if unknown, ENTITY_IS_DELETED if deleted."""
        record = self.tables[obj.name.lower()].get(id18(record_id)) if looks_like_id(record_id) else None
        if record is None:
            raise not_found()
        if record["IsDeleted"] and not include_deleted:
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted", [])
        return record

    def find(self, obj: ObjectDef, field: FieldDef, value: str) -> list[str]:
        """Ids of live records whose (external id / unique) ``field`` equals ``value``, case-insensitively."""
        index = self._index(obj, field)
        table = self.tables[obj.name.lower()]
        return sorted(i for i in index.get(str(value).lower(), ()) if not table[i]["IsDeleted"])

    def _index(self, obj: ObjectDef, field: FieldDef) -> dict[str, set[str]]:
        key = (obj.name.lower(), field.name)
        index = self._indexes.get(key)
        if index is None:  # built on first use, so fields added at runtime are indexable too
            index = {}
            for record_id, record in self.tables[obj.name.lower()].items():
                if record.get(field.name) is not None:
                    index.setdefault(str(record[field.name]).lower(), set()).add(record_id)
            self._indexes[key] = index
        return index

    # -- DML ----------------------------------------------------------------------------------
    def create(
        self, obj: ObjectDef, data: dict[str, Any], *, user_id: str | None, stamp: datetime | None = None
    ) -> str:
        """Insert a record; validates fields, required values, uniqueness and references.

        ``stamp`` backdates CreatedDate/SystemModstamp (seeding only; the API always uses the clock).
        """
        with self.lock:
            values = self._validate(obj, data, creating=True)
            missing = [f.name for f in obj.fields.values() if f.required and values.get(f.name) is None]
            if missing:
                raise SalesforceApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            now = stamp or self.clock.now()
            record_id = self.new_id(obj)
            record: Record = {f.name: f.default for f in obj.fields.values()}
            owner = obj.field("OwnerId")
            if owner is not None and values.get("OwnerId") is None:
                values["OwnerId"] = user_id
            record.update(values)
            record.update(
                Id=record_id,
                IsDeleted=False,
                CreatedDate=now,
                LastModifiedDate=now,
                SystemModstamp=now,
                CreatedById=user_id,
                LastModifiedById=user_id,
            )
            self._check_unique(obj, record, record_id)
            self._check_duplicates(obj, record, record_id)
            self._put(obj, record_id, self._derive(obj, record))
            return record_id

    def update(self, obj: ObjectDef, record_id: str, data: dict[str, Any], *, user_id: str | None) -> str:
        """Update a live record's fields; stamps LastModifiedDate and SystemModstamp."""
        with self.lock:
            current = self.get(obj, record_id)
            values = self._validate(obj, data, creating=False)
            missing = [
                name for name, value in values.items() if value is None and obj.fields[name.lower()].required
            ]
            if missing:
                raise SalesforceApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
            now = self.clock.now()
            record = {
                **current,
                **values,
                "LastModifiedDate": now,
                "SystemModstamp": now,
                "LastModifiedById": user_id,
            }
            self._check_unique(obj, record, current["Id"])
            if any(name.lower() == self.duplicate_rules.get(obj.name.lower(), "").lower() for name in values):
                self._check_duplicates(obj, record, current["Id"])
            self._put(obj, current["Id"], self._derive(obj, record))
            return str(current["Id"])

    def delete(self, obj: ObjectDef, record_id: str) -> str:
        """Soft-delete: the record stays (IsDeleted) for queryAll and getDeleted."""
        with self.lock:
            current = self.get(obj, record_id)
            now = self.clock.now()
            self._put(
                obj, current["Id"], {**current, "IsDeleted": True, "SystemModstamp": now}, deleted_at=now
            )
            return str(current["Id"])

    def upsert(
        self,
        obj: ObjectDef,
        field_name: str,
        value: str,
        data: dict[str, Any],
        *,
        user_id: str | None,
        update_only: bool = False,
    ) -> tuple[str, bool]:
        """Upsert on an external id: (id, created). 300 when several records match."""
        with self.lock:
            field = self.external_id_field(obj, field_name)
            if field.name == "Id":
                return self.update(obj, value, data, user_id=user_id), False
            matches = self.find(obj, field, value)
            if len(matches) > 1:
                raise SalesforceApiError(300, "MULTIPLE_CHOICES", "more than one record found", [field.name])
            body = {k: v for k, v in data.items() if k.lower() != field.name.lower()}
            if matches:
                return self.update(obj, matches[0], body, user_id=user_id), False
            if update_only:
                raise not_found()
            return self.create(obj, {**body, field.name: value}, user_id=user_id), True

    def external_id_field(self, obj: ObjectDef, name: str) -> FieldDef:
        """The field an upsert/lookup keys on: an external-id field or Id, else 404 NOT_FOUND."""
        field = obj.field(name)
        if field is None or not (field.external_id or field.name == "Id"):
            raise SalesforceApiError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}"
            )
        return field

    @contextmanager
    def transaction(self) -> Iterator[Callable[[], None]]:
        """Collect an undo log; yields ``rollback()`` which restores every record written so far."""
        with self.lock:
            outer, self._undo = self._undo, []
            undo = self._undo

            def rollback() -> None:
                for obj_name, record_id, previous, deleted in reversed(undo):
                    obj = self.object(obj_name)
                    self._put(obj, record_id, previous, deleted_at=deleted, log=False)
                undo.clear()

            try:
                yield rollback
            except BaseException:
                rollback()
                raise
            finally:
                self._undo = outer

    # -- internals ----------------------------------------------------------------------------
    def _validate(self, obj: ObjectDef, data: dict[str, Any], *, creating: bool) -> dict[str, Any]:
        values: dict[str, Any] = {}
        refused: list[str] = []
        for name, raw in data.items():
            if name == "attributes":
                continue
            field = obj.field(name)
            if field is None:
                raise SalesforceApiError(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}", [name]
                )
            if not (field.createable if creating else field.updateable):
                refused.append(field.name)
                continue
            values[field.name] = coerce(field, raw)
            if field.type == "reference" and values[field.name] is not None:
                self._check_reference(field, values[field.name])
        if refused:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(refused)}. Please check the security settings "
                "of this field and verify that it is read/write for your profile or permission set.",
                refused,
            )
        return values

    def _check_reference(self, field: FieldDef, value: str) -> None:
        for target in field.reference_to:
            table = self.tables.get(target.lower())  # Group (queues) is not modelled
            record = table.get(value) if table is not None else None
            if record is not None and not record["IsDeleted"]:
                return
        raise SalesforceApiError(
            400,
            "INVALID_CROSS_REFERENCE_KEY",
            f"{field.name}: id value of incorrect type or not found: {value}",
            [field.name],
        )

    def _check_unique(self, obj: ObjectDef, record: Record, record_id: str) -> None:
        for field in obj.fields.values():
            value = record.get(field.name)
            if not field.unique or value is None:
                continue
            others = [i for i in self.find(obj, field, value) if i != record_id]
            if others:
                raise SalesforceApiError(
                    400,
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {field.name} duplicates value on record with id: {others[0]}",
                    [field.name],
                )

    def _check_duplicates(self, obj: ObjectDef, record: Record, record_id: str) -> None:
        """An active duplicate rule (``duplicate_rules``) answers DUPLICATES_DETECTED, as Salesforce's
        standard rules do, with the match result under the key real captures spell ``duplicateResut``."""
        field = obj.field(self.duplicate_rules.get(obj.name.lower(), ""))
        value = record.get(field.name) if field is not None else None
        if field is None or value is None:
            return
        matches = [i for i in self.find(obj, field, value) if i != record_id]
        if not matches:
            return
        match_records = [
            {
                "additionalInformation": [],
                "fieldDiffs": [],
                "matchConfidence": 100.0,
                "record": {
                    "attributes": {"type": obj.name, "url": f"/services/data/v59.0/sobjects/{obj.name}/{i}"},
                    "Id": i,
                },
            }
            for i in matches
        ]
        result = {
            "allowSave": False,
            "duplicateRule": f"Standard_{obj.name}_Duplicate_Rule",
            "duplicateRuleEntityType": obj.name,
            "errorMessage": "Use one of these records?",
            "matchResults": [
                {
                    "entityType": obj.name,
                    "errors": [],
                    "matchEngine": "FuzzyMatchEngine",
                    "matchRecords": match_records,
                    "rule": f"Standard_{obj.name}_Match_Rule_v1_0",
                    "size": len(matches),
                    "success": True,
                }
            ],
        }
        raise SalesforceApiError(
            400, "DUPLICATES_DETECTED", "Use one of these records?", [], extra={"duplicateResut": result}
        )

    def _derive(self, obj: ObjectDef, record: Record) -> Record:
        if obj.name.lower() in _NAME_OBJECTS:
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
        if obj.name == "Task":
            record["IsClosed"] = record.get("Status") == "Completed"
        return record

    def _put(
        self,
        obj: ObjectDef,
        record_id: str,
        record: Record | None,
        *,
        deleted_at: datetime | None = None,
        log: bool = True,
    ) -> None:
        table = self.tables[obj.name.lower()]
        previous = table.get(record_id)
        if log and self._undo is not None:
            self._undo.append((obj.name, record_id, previous, self.deleted_at.get(record_id)))
        for (obj_name, field_name), index in self._indexes.items():
            if obj_name != obj.name.lower():
                continue
            if previous is not None and previous.get(field_name) is not None:
                index.get(str(previous[field_name]).lower(), set()).discard(record_id)
            if record is not None and record.get(field_name) is not None:
                index.setdefault(str(record[field_name]).lower(), set()).add(record_id)
        if record is None:
            table.pop(record_id, None)
        else:
            table[record_id] = record
        if deleted_at is not None:
            self.deleted_at[record_id] = deleted_at
        else:
            self.deleted_at.pop(record_id, None)
