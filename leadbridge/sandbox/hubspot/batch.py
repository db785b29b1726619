"""Batch read / create / update / upsert / archive of one object type (crm-api-notes §4.3).

Rules:
* at most 100 inputs, else 400 (nothing done);
* **create/update/upsert**: every input is checked before anything is written. If some inputs are
  invalid and *every* input carries a unique ``objectWriteTraceId``, the valid ones are written and
  the answer is **207** with one error per invalid input (``context.objectWriteTraceId``);
  otherwise the first error fails the whole request;
* ids that do not exist (read, update) are reported as one ``OBJECT_NOT_FOUND`` error listing them
  (``context.ids``) in a 207; the same id twice in one update/upsert is a 400;
* success is 201 for create, 200 for the others, 204 for archive; ``upsert`` results carry ``new``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadbridge.sandbox.hubspot.errors import OBJECT_NOT_FOUND, HubSpotError, validation_error
from leadbridge.sandbox.hubspot.objects import iso
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.store import Record

MAX_INPUTS = 100

Outcome = tuple[int, dict[str, Any] | None]


def _inputs(body: Any) -> list[dict[str, Any]]:
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list):
        raise validation_error("Batch body needs an 'inputs' list")
    if len(inputs) > MAX_INPUTS:
        raise validation_error(
            f"Batch input has {len(inputs)} inputs; the limit is {MAX_INPUTS}", inputs=[str(len(inputs))]
        )
    return [item if isinstance(item, dict) else {} for item in inputs]


def _answer(
    portal: Portal, started: str, results: list[dict[str, Any]], errors: list[HubSpotError], ok: int
) -> Outcome:
    data: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso(portal.clock.now()),
    }
    if not errors:
        return ok, data
    data["numErrors"] = len(errors)
    data["errors"] = [error.standard_error() for error in errors]
    return 207, data


def _traced(inputs: list[dict[str, Any]]) -> bool:
    """True when every input has an objectWriteTraceId and no two share one (207 allowed)."""
    traces = [item.get("objectWriteTraceId") for item in inputs]
    return all(traces) and len(set(traces)) == len(traces)


def _write_all(
    inputs: list[dict[str, Any]], check: Callable[[dict[str, Any]], None]
) -> tuple[list[dict[str, Any]], list[HubSpotError]]:
    """Check every input; split into the valid ones and one error per invalid one (trace rule)."""
    valid, errors = [], []
    for item in inputs:
        try:
            check(item)
            valid.append(item)
        except HubSpotError as error:
            if not _traced(inputs):
                raise
            error.context = {**error.context, "objectWriteTraceId": [str(item["objectWriteTraceId"])]}
            errors.append(error)
    return valid, errors


def _result(portal: Portal, obj: str, record: Record, item: dict[str, Any], **extra: Any) -> dict[str, Any]:
    store = portal.store(obj)
    data = record.to_json(record.properties, always=store.always_returned())
    if item.get("objectWriteTraceId"):
        data["objectWriteTraceId"] = str(item["objectWriteTraceId"])
    return data | extra


def _no_duplicates(inputs: list[dict[str, Any]]) -> None:
    ids = [str(item.get("id")) for item in inputs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise validation_error(f"Duplicate IDs found in batch input: {duplicates}", ids=duplicates)


def read(portal: Portal, obj: str, body: Any, *, archived: bool = False) -> Outcome:
    """Batch read by id or by a unique ``idProperty``; missing ids → 207 OBJECT_NOT_FOUND."""
    inputs = _inputs(body)
    store = portal.store(obj)
    names = body.get("properties") or list(store.kind.default_properties)
    history = body.get("propertiesWithHistory") or []
    id_property = body.get("idProperty")
    with portal.lock:
        started = iso(portal.clock.now())
        results, missing, seen = [], [], set()
        for item in inputs:
            object_id = str(item.get("id") or "")
            if object_id in seen:
                continue
            seen.add(object_id)
            try:
                record = store.get(object_id, id_property=id_property, archived=archived)
            except HubSpotError:
                missing.append(object_id)
                continue
            results.append(record.to_json(names, always=store.always_returned(), history=history))
        errors = []
        if missing:
            message = (
                f"Could not get some {store.kind.singular.upper()} objects, they may be deleted or not "
                "exist. Check that ids are valid."
            )
            errors.append(HubSpotError(207, OBJECT_NOT_FOUND, message, context={"ids": missing}))
        return _answer(portal, started, results, errors, 200)


def create(portal: Portal, obj: str, body: Any) -> Outcome:
    """Batch create; unique values must also differ between the inputs of one batch."""
    inputs = _inputs(body)
    store = portal.store(obj)
    with portal.lock:
        started = iso(portal.clock.now())
        pending: dict[str, dict[str, str]] = {}  # unique property → value → trace (within this batch)

        def check(item: dict[str, Any]) -> None:
            values = store.prepare(item.get("properties") or {})
            store.check_unique(values)
            portal.link_targets(obj, item.get("associations") or [])
            for name in portal.catalogue.unique(obj):
                value = values.get(name, "").lower()
                if value and value in pending.setdefault(name, {}):
                    raise HubSpotError(
                        409, "CONFLICT", f"Duplicate value '{value}' for unique {name} in batch"
                    )
                if value:
                    pending[name][value] = str(item.get("objectWriteTraceId"))

        valid, errors = _write_all(inputs, check)
        results = []
        for item in valid:
            links = portal.link_targets(obj, item.get("associations") or [])
            record = portal.create(obj, item.get("properties") or {}, links=links)
            results.append(_result(portal, obj, record, item))
        return _answer(portal, started, results, errors, 201)


def update(portal: Portal, obj: str, body: Any) -> Outcome:
    """Batch update by id (or ``idProperty``); unknown ids → 207 OBJECT_NOT_FOUND for those."""
    inputs = _inputs(body)
    _no_duplicates(inputs)
    store = portal.store(obj)
    with portal.lock:
        started = iso(portal.clock.now())
        missing: list[str] = []
        found: list[dict[str, Any]] = []
        for item in inputs:
            try:
                store.get(str(item.get("id") or ""), id_property=item.get("idProperty"))
                found.append(item)
            except HubSpotError as error:
                if error.category != OBJECT_NOT_FOUND:
                    raise
                missing.append(str(item.get("id")))

        def check(item: dict[str, Any]) -> None:
            record = store.get(str(item["id"]), id_property=item.get("idProperty"))
            store.check_unique(store.prepare(item.get("properties") or {}), own_id=record.id)

        valid, errors = _write_all(found, check)
        results = []
        for item in valid:
            record = store.get(str(item["id"]), id_property=item.get("idProperty"))
            portal.update(obj, record, item.get("properties") or {})
            results.append(_result(portal, obj, record, item))
        if missing:
            errors.append(HubSpotError(207, OBJECT_NOT_FOUND, "Object not found", context={"ids": missing}))
        return _answer(portal, started, results, errors, 200)


def upsert(portal: Portal, obj: str, body: Any) -> Outcome:
    """Batch upsert by a unique ``idProperty`` (e.g. ``email``, ``leadbridge_id``); results carry ``new``."""
    inputs = _inputs(body)
    _no_duplicates(inputs)
    store = portal.store(obj)
    with portal.lock:
        started = iso(portal.clock.now())

        def check(item: dict[str, Any]) -> None:
            id_property = item.get("idProperty")
            if not id_property or not item.get("id"):
                raise validation_error("Each upsert input needs 'id' and a unique 'idProperty'")
            existing = store.find(str(id_property), str(item["id"]))
            values = store.prepare(item.get("properties") or {})
            store.check_unique(values, own_id=existing.id if existing else None)

        valid, errors = _write_all(inputs, check)
        results = []
        for item in valid:
            id_property, key = str(item["idProperty"]), str(item["id"])
            existing = store.find(id_property, key)
            if existing is None:
                values = {**(item.get("properties") or {}), id_property: key}
                record = portal.create(obj, values)
            else:
                record = portal.update(obj, existing, item.get("properties") or {})
            results.append(_result(portal, obj, record, item, new=existing is None))
        return _answer(portal, started, results, errors, 200)


def archive(portal: Portal, obj: str, body: Any) -> Outcome:
    """Batch archive; ids that do not exist are ignored; always 204."""
    inputs = _inputs(body)
    store = portal.store(obj)
    with portal.lock:
        for item in inputs:
            record = store.records.get(str(item.get("id") or ""))
            if record is not None:
                portal.archive(obj, record)
    return 204, None
