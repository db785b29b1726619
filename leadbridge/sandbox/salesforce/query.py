"""query / queryAll / queryMore: run parsed SOQL over the store and hand the rows out in pages.

A query's rows are fixed when it runs (a snapshot, as Salesforce's cursor is); later pages are
served from a query locator: ``nextRecordsUrl = /services/data/vNN.N/query/<locator>-<offset>``.
``totalSize`` is the same on every page.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from leadbridge.sandbox.salesforce.errors import (
    SalesforceApiError,
    invalid_field,
    malformed_query,
    no_such_column,
)
from leadbridge.sandbox.salesforce.evaluate import Getter, compile_where, sort_rows
from leadbridge.sandbox.salesforce.records import Record, RecordStore
from leadbridge.sandbox.salesforce.schema import ObjectDef
from leadbridge.sandbox.salesforce.shapes import attributes
from leadbridge.sandbox.salesforce.soql import Query, parse
from leadbridge.sandbox.salesforce.values import to_json

DEFAULT_BATCH = 2000
MIN_BATCH, MAX_BATCH = 200, 2000
MAX_CURSORS = 500  # older locators answer INVALID_QUERY_LOCATOR, like expired ones


@dataclass(frozen=True)
class Column:
    """One selected or filtered path: a field of the record, or of its parent (``Owner.Name``)."""

    type: str  # the field's type, for literal checks and comparisons
    field: str  # canonical field name, on the record or on the parent
    reference: str | None = None  # the record's reference field (``OwnerId``) for a parent path
    relationship: str | None = None  # the relationship name in JSON (``Owner``)
    parents: tuple[dict[str, Record], ...] = ()  # the tables the parent may live in

    def parent(self, record: Record) -> Record | None:
        parent_id = record.get(self.reference) if self.reference else None
        if parent_id is None:
            return None
        return next((table[parent_id] for table in self.parents if parent_id in table), None)

    def get(self, record: Record) -> Any:
        if self.reference is None:
            return record.get(self.field)
        parent = self.parent(record)
        return None if parent is None else parent.get(self.field)


@dataclass
class _Cursor:
    obj: ObjectDef
    columns: list[Column]
    records: list[Record]
    batch: int


def batch_size(header: str | None) -> int:
    """``Sforce-Query-Options: batchSize=N`` clamped to 200..2000 (Salesforce treats N as a hint)."""
    if not header:
        return DEFAULT_BATCH
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name.strip().lower() == "batchsize" and value.strip().isdigit():
            return max(MIN_BATCH, min(MAX_BATCH, int(value)))
    return DEFAULT_BATCH


class QueryEngine:
    """Executes queries for one org and remembers their cursors."""

    def __init__(self, store: RecordStore) -> None:
        self.store = store
        self._cursors: OrderedDict[str, _Cursor] = OrderedDict()
        self._numbers = itertools.count(1)
        self._lock = threading.Lock()

    def column(self, obj: ObjectDef, path: str) -> Column:
        """Resolve a field or one-level relationship path; INVALID_FIELD when it does not exist."""
        head, _, tail = path.partition(".")
        if not tail:
            definition = obj.field(path)
            if definition is None:
                raise no_such_column(path, obj.name)
            return Column(definition.type, definition.name)
        if "." in tail:
            raise malformed_query(f"relationship paths deeper than one level are not supported: {path}")
        reference = obj.relationship(head)
        if reference is None or reference.relationship_name is None:
            raise invalid_field(
                f"Didn't understand relationship '{head}' in field path. If you are attempting to use a "
                "custom relationship, be sure to append the '__r' after the custom relationship name.",
                [path],
            )
        # a polymorphic owner names Group too, which the stand-in does not model
        targets = [self.store.object(t) for t in reference.reference_to if self.store.schema.get(t)]
        definition = targets[0].field(tail)
        if definition is None:
            raise no_such_column(tail, targets[0].name)
        tables = tuple(self.store.tables[t.name.lower()] for t in targets)
        return Column(definition.type, definition.name, reference.name, reference.relationship_name, tables)

    def resolver(self, obj: ObjectDef) -> Callable[[str], tuple[str, Getter]]:
        """``path -> (field type, getter)`` as the WHERE/ORDER BY compiler wants it."""

        def resolve(path: str) -> tuple[str, Getter]:
            column = self.column(obj, path)
            return column.type, column.get

        return resolve

    def select(
        self, soql: str, *, include_deleted: bool
    ) -> tuple[ObjectDef, list[Column], list[Record], Query]:
        """Parse and evaluate a query: its object, selected columns and matching rows (a snapshot)."""
        if not soql or not soql.strip():
            raise malformed_query("unexpected token: <EOF>")
        query = parse(soql)
        with self.store.lock:
            obj = self.store.object(query.object_name)
            columns = [
                self.column(obj, path) for path in query.fields
            ]  # unknown columns fail even with no rows
            resolve = self.resolver(obj)
            predicate = compile_where(query.where, resolve) if query.where is not None else None
            rows = [
                r
                for r in self.store.tables[obj.name.lower()].values()
                if (include_deleted or not r["IsDeleted"]) and (predicate is None or predicate(r))
            ]
            if query.order:
                rows = sort_rows(rows, query.order, resolve)
        rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        return obj, columns, rows, query

    def execute(self, soql: str, *, include_deleted: bool, batch: int, version: str) -> dict[str, Any]:
        """Run a query and return its first page."""
        obj, columns, rows, query = self.select(soql, include_deleted=include_deleted)
        if query.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        with self._lock:
            locator = f"01g5{next(self._numbers):011d}AAA"
            self._cursors[locator] = _Cursor(obj, columns, rows, batch)
            while len(self._cursors) > MAX_CURSORS:
                self._cursors.popitem(last=False)
        return self._page(locator, 0, version)

    def more(self, locator_with_offset: str, *, version: str) -> dict[str, Any]:
        """A later page: ``<locator>-<offset>`` as found in ``nextRecordsUrl``."""
        locator, _, offset = locator_with_offset.partition("-")
        if locator not in self._cursors or not offset.isdigit():
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, int(offset), version)

    def _page(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        cursor = self._cursors[locator]
        end = offset + cursor.batch
        chunk = cursor.records[offset:end]
        page: dict[str, Any] = {"totalSize": len(cursor.records), "done": end >= len(cursor.records)}
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        page["records"] = [self._shape(cursor, record, version) for record in chunk]
        return page

    def _shape(self, cursor: _Cursor, record: Record, version: str) -> dict[str, Any]:
        """A record as query results carry it; parent fields nest under the relationship name."""
        row: dict[str, Any] = {"attributes": attributes(cursor.obj.name, record["Id"], version)}
        for column in cursor.columns:
            if column.relationship is None:
                row[column.field] = to_json(record.get(column.field))
                continue
            parent = column.parent(record)
            if parent is None:
                row[column.relationship] = None
                continue
            parent_obj = self.store.schema.by_prefix(parent["Id"])
            name = parent_obj.name if parent_obj is not None else column.relationship
            nested = row.get(column.relationship) or {"attributes": attributes(name, parent["Id"], version)}
            nested[column.field] = to_json(parent.get(column.field))
            row[column.relationship] = nested
        return row
