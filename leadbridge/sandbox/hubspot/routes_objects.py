"""Routes of ``/crm/v3/objects/{contacts|companies|deals}``: basic CRUD, paging, batch, search."""

from __future__ import annotations

from leadbridge.sandbox.hubspot import batch, search
from leadbridge.sandbox.hubspot.objects import OBJECT_TYPES
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.store import Record
from leadbridge.sandbox.hubspot.wire import body, body_dict, path, query_bool, query_int, query_list
from leadbridge.sandbox.server import Handler, Request, Response, Router, empty_response, json_response

MAX_PAGE = 100  # GET …/{obj}?limit= (the client's get_all asks for 100)


def add_routes(router: Router, portal: Portal) -> None:
    """Register every object route of every object type, bound to ``portal``."""
    for obj in OBJECT_TYPES:
        _add_object_routes(router, portal, obj)


def _add_object_routes(router: Router, portal: Portal, obj: str) -> None:
    base = f"/crm/v3/objects/{obj}"
    store = portal.store(obj)
    kind = store.kind

    def shape(request: Request, record: Record) -> dict[str, object]:
        """An object read: requested (or default) properties, history and associations."""
        names = query_list(request, "properties") or list(kind.default_properties)
        data = record.to_json(
            names, always=store.always_returned(), history=query_list(request, "propertiesWithHistory")
        )
        wanted = query_list(request, "associations")
        if wanted:
            block = portal.associations_json(obj, record, wanted)
            if block:
                data["associations"] = block
        return data

    def create(request: Request) -> Response:
        data = body_dict(request)
        links = portal.link_targets(obj, data.get("associations") or [])
        record = portal.create(obj, data.get("properties") or {}, links=links)
        return json_response(record.to_json(record.properties, always=store.always_returned()), 201)

    def get_page(request: Request) -> Response:
        limit = query_int(request, "limit", 10, high=MAX_PAGE)
        with portal.lock:
            page, following = store.page(
                request.param("after"), limit, archived=query_bool(request, "archived")
            )
            data: dict[str, object] = {"results": [shape(request, record) for record in page]}
        if following is not None:
            data["paging"] = {"next": {"after": following, "link": f"{base}?after={following}"}}
        return json_response(data)

    def get_one(request: Request) -> Response:
        with portal.lock:
            record = store.get(
                path(request, "id"),
                id_property=request.param("idProperty"),
                archived=query_bool(request, "archived"),
            )
            return json_response(shape(request, record))

    def update(request: Request) -> Response:
        data = body_dict(request)
        with portal.lock:
            record = store.get(path(request, "id"), id_property=request.param("idProperty"))
            portal.update(obj, record, data.get("properties") or {})
            return json_response(record.to_json(record.properties, always=store.always_returned()))

    def archive(request: Request) -> Response:
        with portal.lock:
            record = store.records.get(path(request, "id"))
            if record is not None:  # archiving an unknown or archived id is a quiet success
                portal.archive(obj, record)
        return empty_response(204)

    def do_search(request: Request) -> Response:
        parsed = search.parse_request(request.body, portal.search_limits)
        with portal.lock:
            total, page, following = search.run(
                portal.searchable(obj),
                parsed,
                portal.catalogue,
                kind,
                portal.search_limits,
                lambda record_id, to_obj: portal.associated(obj, record_id, to_obj),
            )
            names = parsed.properties or kind.default_properties
            data: dict[str, object] = {
                "total": total,
                "results": [record.to_json(names, always=store.always_returned()) for record in page],
            }
        if following is not None:
            data["paging"] = {"next": {"after": following, "link": f"?after={following}"}}
        return json_response(data)

    def batch_route(operation: str) -> Handler:
        run = getattr(batch, operation)

        def handle(request: Request) -> Response:
            payload = body(request)
            if operation == "read":
                status, data = run(portal, obj, payload, archived=query_bool(request, "archived"))
            else:
                status, data = run(portal, obj, payload)
            return empty_response(204) if data is None else json_response(data, status)

        return handle

    router.add("POST", f"{base}/search", f"{obj}.search", do_search)
    for operation in ("read", "create", "update", "upsert", "archive"):
        router.add("POST", f"{base}/batch/{operation}", f"{obj}.batch.{operation}", batch_route(operation))
    router.add("GET", base, f"{obj}.list", get_page)
    router.add("POST", base, f"{obj}.create", create)
    router.add("GET", f"{base}/(?P<id>[^/]+)", f"{obj}.get", get_one)
    router.add("PATCH", f"{base}/(?P<id>[^/]+)", f"{obj}.update", update)
    router.add("DELETE", f"{base}/(?P<id>[^/]+)", f"{obj}.archive", archive)
