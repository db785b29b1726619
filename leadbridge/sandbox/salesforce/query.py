"""query / queryAll / queryMore: run parsed SOQL over the store and hand the rows out in pages.

A query's rows are fixed when it runs (a snapshot, as Salesforce's cursor is); later pages are
served from a query locator: ``nextRecordsUrl = /services/data/vNN.N/query/<locator>-<offset>``.
``totalSize`` is the same on every page.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
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


@dataclass
class _Cursor:
    obj: ObjectDef
    query: Query
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

    def resolver(self, obj: ObjectDef) -> Any:
        """``path -> (field type, getter)`` for a field or a one-level relationship (``Owner.Name``)."""

        def resolve(path: str) -> tuple[str, Getter]:
            head, _, tail = path.partition(".")
            if not tail:
                definition = obj.field(path)
                if definition is None:
                    raise no_such_column(path, obj.name)
                name = definition.name
                return definition.type, lambda r: r.get(name)
            if "." in tail:
                raise malformed_query(f"relationship paths deeper than one level are not supported: {path}")
            reference = obj.relationship(head)
            if reference is None:
                raise invalid_field(
                    f"Didn't understand relationship '{head}' in field path. If you are attempting to use a "
                    "custom relationship, be sure to append the '__r' after the custom relationship name.",
                    [path],
                )
            targets = [self.store.object(t) for t in reference.reference_to]
            definition = targets[0].field(tail)
            if definition is None:
                raise no_such_column(tail, targets[0].name)
            ref_name, sub = reference.name, definition.name
            tables = [self.store.tables[t.name.lower()] for t in targets]

            def get(r: Record) -> Any:
                parent = self._parent(tables, r.get(ref_name))
                return None if parent is None else parent.get(sub)

            return definition.type, get

        return resolve

    @staticmethod
    def _parent(tables: list[dict[str, Record]], parent_id: Any) -> Record | None:
        if parent_id is None:
            return None
        return next((t[parent_id] for t in tables if parent_id in t), None)

    def execute(self, soql: str, *, include_deleted: bool, batch: int, version: str) -> dict[str, Any]:
        """Run a query and return its first page."""
        if not soql or not soql.strip():
            raise malformed_query("unexpected token: <EOF>")
        query = parse(soql)
        with self.store.lock:
            obj = self.store.object(query.object_name)
            resolve = self.resolver(obj)
            for path in query.fields:
                resolve(path)  # unknown columns fail even when no row matches
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
        if query.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        with self._lock:
            locator = f"01g5{next(self._numbers):011d}AAA"
            self._cursors[locator] = _Cursor(obj, query, rows, batch)
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
        resolve = self.resolver(cursor.obj)
        page["records"] = [self._shape(cursor.obj, cursor.query.fields, r, resolve, version) for r in chunk]
        return page

    def _shape(
        self, obj: ObjectDef, paths: list[str], record: Record, resolve: Any, version: str
    ) -> dict[str, Any]:
        row: dict[str, Any] = {"attributes": attributes(obj.name, record["Id"], version)}
        for path in paths:
            head, _, tail = path.partition(".")
            if not tail:
                definition = obj.field(path)
                assert definition is not None  # checked when the query ran
                row[definition.name] = to_json(record.get(definition.name))
                continue
            reference = obj.relationship(head)
            assert reference is not None and reference.relationship_name is not None
            parent_id = record.get(reference.name)
            tables = [self.store.tables[t.lower()] for t in reference.reference_to]
            parent = self._parent(tables, parent_id)
            if parent is None:
                row[reference.relationship_name] = None
                continue
            parent_obj = self.store.schema.by_prefix(parent["Id"])
            assert parent_obj is not None
            nested = row.get(reference.relationship_name) or {
                "attributes": attributes(parent_obj.name, parent["Id"], version)
            }
            sub = parent_obj.field(tail)
            assert sub is not None
            nested[sub.name] = to_json(parent.get(sub.name))
            row[reference.relationship_name] = nested
        return row
