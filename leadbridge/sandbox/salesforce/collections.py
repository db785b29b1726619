"""sObject Collections (``{B}/composite/sobjects``): create, update, upsert, delete, retrieve.

Rules applied: at most 200 records (else 400 ``EXCEEDED_ID_LIMIT``); the answer is **200 with one
result per record, in input order**, even when records fail; item errors say ``statusCode``;
``allOrNone: true`` rolls every write back when one record fails, and the records that were
valid report ``ALL_OR_NONE_OPERATION_ROLLED_BACK`` — without an id when their write was a create
(the record does not exist); a DELETE without ``ids`` is 400 ``REQUIRED_FIELD_MISSING``. Injected
per-record faults use the fault endpoint ``"collections.record"`` (each record fails with the
transient ``UNABLE_TO_LOCK_ROW``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leadbridge.sandbox.salesforce.errors import SalesforceApiError
from leadbridge.sandbox.salesforce.shapes import record_json
from leadbridge.sandbox.server import Request, Response, Router, json_response

if TYPE_CHECKING:
    from leadbridge.sandbox.salesforce.org import SalesforceOrg

MAX_RECORDS = 200
RECORD_FAULTS = "collections.record"
_ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was using "
    "AllOrNone header",
    "fields": [],
}


def _too_many() -> SalesforceApiError:
    return SalesforceApiError(
        400,
        "EXCEEDED_ID_LIMIT",
        f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
    )


def _payload(request: Request) -> tuple[list[dict[str, Any]], bool]:
    try:
        data = request.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object with a 'records' array")
    records = data["records"]
    if len(records) > MAX_RECORDS:
        raise _too_many()
    if not all(isinstance(r, dict) for r in records):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Every record must be a JSON object")
    return records, bool(data.get("allOrNone", False))


def _type_of(record: dict[str, Any]) -> str:
    attributes = record.get("attributes")
    name = attributes.get("type") if isinstance(attributes, dict) else None
    if not name:
        raise SalesforceApiError(400, "INVALID_TYPE", "No SObject Type defined in the request")
    return str(name)


Operation = Callable[[], dict[str, Any]]


def _run(
    org: SalesforceOrg, operations: list[Operation], all_or_none: bool, *, creating: bool = False
) -> list[dict[str, Any]]:
    """Apply each operation; collect per-record results; roll back everything if all-or-none fails."""
    results: list[dict[str, Any]] = []
    with org.store.transaction() as rollback:
        for operation in operations:
            try:
                if org.faults.decide(RECORD_FAULTS).error:
                    raise SalesforceApiError(
                        400,
                        "UNABLE_TO_LOCK_ROW",
                        "unable to obtain exclusive access to this record or 1 records",
                    )
                results.append(operation())
            except SalesforceApiError as error:
                results.append({"success": False, "errors": [error.item_error()]})
        if all_or_none and not all(r["success"] for r in results):
            rollback()
            results = [r if not r["success"] else _rolled_back(r, creating) for r in results]
    return results


def _rolled_back(result: dict[str, Any], creating: bool) -> dict[str, Any]:
    """A valid record's result after an all-or-none rollback: a created record never existed."""
    rolled: dict[str, Any] = {"success": False, "errors": [dict(_ROLLED_BACK)]}
    if not (creating or result.get("created")):
        rolled = {"id": result["id"], **rolled}
    return rolled


def register(router: Router, org: SalesforceOrg, base: str) -> None:
    """Add the collection routes to an org's router."""
    store = org.store

    def user(request: Request) -> str | None:
        return request.context.get("user_id")

    def create(request: Request) -> Response:
        records, all_or_none = _payload(request)

        def op(record: dict[str, Any]) -> Operation:
            def run() -> dict[str, Any]:
                if "id" in {k.lower() for k in record}:
                    raise SalesforceApiError(
                        400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"]
                    )
                new_id = store.create(store.object(_type_of(record)), record, user_id=user(request))
                return {"id": new_id, "success": True, "errors": []}

            return run

        return json_response(_run(org, [op(r) for r in records], all_or_none, creating=True))

    def update(request: Request) -> Response:
        records, all_or_none = _payload(request)

        def op(record: dict[str, Any]) -> Operation:
            def run() -> dict[str, Any]:
                data = {k: v for k, v in record.items() if k.lower() != "id"}
                record_id = next((v for k, v in record.items() if k.lower() == "id"), None)
                if not record_id:
                    raise SalesforceApiError(
                        400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]
                    )
                store.update(store.object(_type_of(record)), str(record_id), data, user_id=user(request))
                return {
                    "id": store.get(store.object(_type_of(record)), str(record_id))["Id"],
                    "success": True,
                    "errors": [],
                }

            return run

        return json_response(_run(org, [op(r) for r in records], all_or_none))

    def upsert(request: Request) -> Response:
        records, all_or_none = _payload(request)
        obj = store.object(request.params["sobject"])
        field = store.external_id_field(obj, request.params["field"])
        values = [next((v for k, v in r.items() if k.lower() == field.name.lower()), None) for r in records]
        folded = [str(v).lower() for v in values if v is not None]
        repeated = {v for v in folded if folded.count(v) > 1}

        def op(record: dict[str, Any], value: Any) -> Operation:
            def run() -> dict[str, Any]:
                if _type_of(record).lower() != obj.name.lower():
                    raise SalesforceApiError(400, "INVALID_TYPE", f"records must be of type {obj.name}")
                if value in (None, ""):
                    raise SalesforceApiError(
                        400, "MISSING_ARGUMENT", f"{field.name} not specified", [field.name]
                    )
                if str(value).lower() in repeated:
                    raise SalesforceApiError(
                        400,
                        "DUPLICATE_EXTERNAL_ID",
                        f"Duplicate external id specified: {value}",
                        [field.name],
                    )
                record_id, created = store.upsert(obj, field.name, str(value), record, user_id=user(request))
                return {"id": record_id, "success": True, "errors": [], "created": created}

            return run

        return json_response(_run(org, [op(r, v) for r, v in zip(records, values, strict=True)], all_or_none))

    def delete(request: Request) -> Response:
        ids = [i for i in (request.param("ids") or "").split(",") if i]
        if not ids:  # message unconfirmed; the code and status are Salesforce's
            raise SalesforceApiError(
                400, "REQUIRED_FIELD_MISSING", "Required parameter 'ids' is missing", ["ids"]
            )
        if len(ids) > MAX_RECORDS:
            raise _too_many()
        all_or_none = (request.param("allOrNone") or "").lower() == "true"

        def op(record_id: str) -> Operation:
            def run() -> dict[str, Any]:
                obj = store.schema.by_prefix(record_id)
                if obj is None:
                    raise SalesforceApiError(400, "MALFORMED_ID", f"malformed id {record_id}")
                return {"id": store.delete(obj, record_id), "success": True, "errors": []}

            return run

        results = _run(org, [op(i) for i in ids], all_or_none)
        for record_id, result in zip(ids, results, strict=True):
            result.setdefault("id", record_id)
        return json_response(results)

    def retrieve(request: Request) -> Response:
        obj = store.object(request.params["sobject"])
        if request.method == "POST":
            data = request.json() or {}
            ids, fields = list(data.get("ids") or []), list(data.get("fields") or [])
        else:
            ids = [i for i in (request.param("ids") or "").split(",") if i]
            fields = [f for f in (request.param("fields") or "").split(",") if f]
        if len(ids) > 2000:
            raise _too_many()
        wanted = [f.strip().lower() for f in fields] or None
        out: list[dict[str, Any] | None] = []
        for record_id in ids:
            try:
                out.append(record_json(obj, store.get(obj, record_id), request.params["version"], wanted))
            except SalesforceApiError:
                out.append(None)
        return json_response(out)

    router.add("POST", base + r"/composite/sobjects/?", "collections.create", create)
    router.add("PATCH", base + r"/composite/sobjects/?", "collections.update", update)
    router.add("DELETE", base + r"/composite/sobjects/?", "collections.delete", delete)
    router.add(
        "PATCH", base + r"/composite/sobjects/(?P<sobject>\w+)/(?P<field>\w+)/?", "collections.upsert", upsert
    )
    router.add("GET", base + r"/composite/sobjects/(?P<sobject>\w+)/?", "collections.retrieve", retrieve)
    router.add("POST", base + r"/composite/sobjects/(?P<sobject>\w+)/?", "collections.retrieve", retrieve)
