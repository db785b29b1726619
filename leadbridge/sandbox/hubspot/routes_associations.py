"""Routes of associations v4 (crm-api-notes §4.5): per-record PUT/GET/DELETE and the batch calls."""

from __future__ import annotations

from typing import Any

from leadbridge.sandbox.hubspot.associations import HUBSPOT_DEFINED, label_of, pair
from leadbridge.sandbox.hubspot.errors import OBJECT_NOT_FOUND, HubSpotError, validation_error
from leadbridge.sandbox.hubspot.objects import OBJECT_TYPES, iso, object_type
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.wire import body, body_dict, path, query_int
from leadbridge.sandbox.server import Request, Response, Router, empty_response, json_response

RECORD = "/crm/v4/objects/(?P<obj>[^/]+)/(?P<id>[^/]+)/associations"
BATCH = "/crm/v4/associations/(?P<obj>[^/]+)/(?P<to>[^/]+)"
MAX_READ_INPUTS = 1_000  # Feb-2025 changelog
MAX_WRITE_INPUTS = 100  # stricter than HubSpot on purpose: connectors stay well inside the real cap


def _kind(request: Request, name: str) -> str:
    kind = object_type(path(request, name))
    if kind is None:
        raise validation_error(f"Unable to infer object type from: {path(request, name)}")
    return kind.name


def _inputs(data: Any, limit: int) -> list[dict[str, Any]]:
    inputs = data.get("inputs") if isinstance(data, dict) else None
    if not isinstance(inputs, list):
        raise validation_error("Batch body needs an 'inputs' list")
    if len(inputs) > limit:
        raise validation_error(f"Batch input has {len(inputs)} inputs; the limit is {limit}")
    return [item if isinstance(item, dict) else {} for item in inputs]


def _id(value: Any) -> str:
    return str((value or {}).get("id") or "") if isinstance(value, dict) else str(value or "")


def add_routes(router: Router, portal: Portal) -> None:
    """Register the associations v4 routes bound to ``portal``."""
    links = portal.associations

    def require(obj: str, object_id: str) -> None:
        portal.store(obj).get(object_id)  # 404 OBJECT_NOT_FOUND when missing or archived

    def types_json(obj: str, to: str, found: set[tuple[str, int]]) -> list[dict[str, Any]]:
        return [
            {"category": category, "typeId": type_id, "label": label_of(obj, to, category, type_id)}
            for category, type_id in sorted(found)
        ]

    def pair_json(obj: str, from_id: str, to: str, to_id: str) -> dict[str, Any]:
        found = links.targets(obj, from_id, to).get(to_id, set())
        return {
            "fromObjectTypeId": OBJECT_TYPES[obj].type_id,
            "fromObjectId": from_id,
            "toObjectTypeId": OBJECT_TYPES[to].type_id,
            "toObjectId": to_id,
            "labels": [label for _, _, label in _labels(obj, to, found) if label],
        }

    def default_results(obj: str, from_id: str, to: str, to_id: str) -> list[dict[str, Any]]:
        forward, backward = links.add_default(obj, from_id, to, to_id)
        return [
            {"from": {"id": from_id}, "to": {"id": to_id},
             "associationSpec": {"associationCategory": HUBSPOT_DEFINED, "associationTypeId": forward}},
            {"from": {"id": to_id}, "to": {"id": from_id},
             "associationSpec": {"associationCategory": HUBSPOT_DEFINED, "associationTypeId": backward}},
        ]  # fmt: skip

    def batch_json(results: list[dict[str, Any]], errors: list[HubSpotError], ok: int) -> Response:
        now = iso(portal.clock.now())
        data: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": now,
            "completedAt": now,
        }
        if not errors:
            return json_response(data, ok)
        data |= {"numErrors": len(errors), "errors": [e.standard_error() for e in errors]}
        return json_response(data, 207)

    def put_default(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        from_id, to_id = path(request, "id"), path(request, "toid")
        with portal.lock:
            require(obj, from_id)
            require(to, to_id)
            return batch_json(default_results(obj, from_id, to, to_id), [], 200)

    def put_labeled(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        from_id, to_id = path(request, "id"), path(request, "toid")
        specs = body(request)
        if not isinstance(specs, list) or not specs:
            raise validation_error("The body must be a non-empty list of association specs")
        with portal.lock:
            require(obj, from_id)
            require(to, to_id)
            for spec in specs:
                category = str(spec.get("associationCategory"))
                links.add(obj, from_id, to, to_id, category, int(spec.get("associationTypeId", 0)))
            return json_response(pair_json(obj, from_id, to, to_id), 201)

    def get_page(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        from_id = path(request, "id")
        limit = query_int(request, "limit", 500, high=500)
        start = query_int(request, "after", 0, low=0)
        with portal.lock:
            require(obj, from_id)
            pair(obj, to)
            found = list(links.targets(obj, from_id, to).items())
        results = [
            {"toObjectId": to_id, "associationTypes": types_json(obj, to, kinds)}
            for to_id, kinds in found[start : start + limit]
        ]
        data: dict[str, Any] = {"results": results}
        if start + limit < len(found):
            data["paging"] = {"next": {"after": str(start + limit)}}
        return json_response(data)

    def delete(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        with portal.lock:
            links.remove(obj, path(request, "id"), to, path(request, "toid"))
        return empty_response(204)

    def batch_create(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        inputs = _inputs(body_dict(request), MAX_WRITE_INPUTS)
        results, errors = [], []
        with portal.lock:
            for item in inputs:
                from_id, to_id = _id(item.get("from")), _id(item.get("to"))
                try:
                    require(obj, from_id)
                    require(to, to_id)
                    for spec in item.get("types") or []:
                        category = str(spec.get("associationCategory"))
                        links.add(obj, from_id, to, to_id, category, int(spec.get("associationTypeId", 0)))
                except HubSpotError as error:
                    errors.append(error)
                    continue
                results.append(pair_json(obj, from_id, to, to_id))
        return batch_json(results, errors, 201)

    def batch_default(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        inputs = _inputs(body_dict(request), MAX_WRITE_INPUTS)
        results = []
        with portal.lock:
            for item in inputs:
                from_id, to_id = _id(item.get("from")), _id(item.get("to"))
                require(obj, from_id)
                require(to, to_id)
                results += default_results(obj, from_id, to, to_id)
        return batch_json(results, [], 200)

    def batch_read(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        inputs = _inputs(body_dict(request), MAX_READ_INPUTS)
        results, errors = [], []
        with portal.lock:
            pair(obj, to)
            for item in inputs:
                from_id = _id(item)
                found = links.targets(obj, from_id, to)
                if not found:
                    singular, to_singular = OBJECT_TYPES[obj].singular, OBJECT_TYPES[to].singular
                    message = f"No {to_singular} is associated with {singular} {from_id}."
                    errors.append(
                        HubSpotError(207, OBJECT_NOT_FOUND, message, context={"fromObjectId": [from_id]},
                                     sub_category="crm.associations.NO_ASSOCIATIONS_FOUND")
                    )  # fmt: skip
                    continue
                to_list = [
                    {"toObjectId": i, "associationTypes": types_json(obj, to, k)} for i, k in found.items()
                ]
                results.append({"from": {"id": from_id}, "to": to_list})
        return batch_json(results, errors, 200)

    def batch_archive(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        inputs = _inputs(body_dict(request), MAX_WRITE_INPUTS)
        with portal.lock:
            for item in inputs:
                targets = item.get("to") or []
                for target in targets if isinstance(targets, list) else [targets]:
                    links.remove(obj, _id(item.get("from")), to, _id(target))
        return empty_response(204)

    def batch_archive_labels(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        inputs = _inputs(body_dict(request), MAX_WRITE_INPUTS)
        with portal.lock:
            for item in inputs:
                kinds = [
                    (str(s.get("associationCategory")), int(s.get("associationTypeId", 0)))
                    for s in item.get("types") or []
                ]
                links.remove_types(obj, _id(item.get("from")), to, _id(item.get("to")), kinds)
        return empty_response(204)

    def labels(request: Request) -> Response:
        obj, to = _kind(request, "obj"), _kind(request, "to")
        types = pair(obj, to)
        found = {(HUBSPOT_DEFINED, types.default)}
        if types.primary is not None:
            found.add((HUBSPOT_DEFINED, types.primary))
        return json_response({"results": types_json(obj, to, found)})

    router.add("PUT", f"{RECORD}/default/(?P<to>[^/]+)/(?P<toid>[^/]+)", "associations.default", put_default)
    router.add("PUT", f"{RECORD}/(?P<to>[^/]+)/(?P<toid>[^/]+)", "associations.create", put_labeled)
    router.add("GET", f"{RECORD}/(?P<to>[^/]+)", "associations.list", get_page)
    router.add("DELETE", f"{RECORD}/(?P<to>[^/]+)/(?P<toid>[^/]+)", "associations.archive", delete)
    router.add("POST", f"{BATCH}/batch/create", "associations.batch.create", batch_create)
    router.add("POST", f"{BATCH}/batch/associate/default", "associations.batch.default", batch_default)
    router.add("POST", f"{BATCH}/batch/read", "associations.batch.read", batch_read)
    router.add("POST", f"{BATCH}/batch/archive", "associations.batch.archive", batch_archive)
    router.add(
        "POST", f"{BATCH}/batch/labels/archive", "associations.batch.labels_archive", batch_archive_labels
    )
    router.add("GET", f"{BATCH}/labels", "associations.labels", labels)


def _labels(obj: str, to: str, found: set[tuple[str, int]]) -> list[tuple[str, int, str | None]]:
    return [(category, type_id, label_of(obj, to, category, type_id)) for category, type_id in sorted(found)]
