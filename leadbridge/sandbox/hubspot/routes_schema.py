"""Routes of ``/crm/v3/properties/{obj}`` (properties and groups) and ``/crm/v3/owners``."""

from __future__ import annotations

from leadbridge.sandbox.hubspot.errors import validation_error
from leadbridge.sandbox.hubspot.objects import object_type
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.wire import body_dict, path, query_bool, query_int
from leadbridge.sandbox.server import Request, Response, Router, empty_response, json_response

PROPERTIES = "/crm/v3/properties/(?P<obj>[^/]+)"


def _obj(request: Request) -> str:
    kind = object_type(path(request, "obj"))
    if kind is None:
        raise validation_error(f"Unable to infer object type from: {path(request, 'obj')}")
    return kind.name


def add_routes(router: Router, portal: Portal) -> None:
    """Register the property, property-group and owner routes bound to ``portal``."""
    catalogue = portal.catalogue

    def list_properties(request: Request) -> Response:
        with portal.lock:
            props = catalogue.properties[_obj(request)].values()
            return json_response({"results": [prop.to_json() for prop in props]})

    def create_property(request: Request) -> Response:
        data = body_dict(request)
        with portal.lock:
            return json_response(catalogue.create(_obj(request), data, portal.clock.now()).to_json(), 201)

    def get_property(request: Request) -> Response:
        with portal.lock:
            return json_response(catalogue.require(_obj(request), path(request, "name")).to_json())

    def update_property(request: Request) -> Response:
        data = body_dict(request)
        with portal.lock:
            prop = catalogue.update(_obj(request), path(request, "name"), data, portal.clock.now())
            return json_response(prop.to_json())

    def archive_property(request: Request) -> Response:
        with portal.lock:
            catalogue.archive(_obj(request), path(request, "name"))
        return empty_response(204)

    def group_json(group: dict[str, object]) -> dict[str, object]:
        return {**group, "archived": False}

    def list_groups(request: Request) -> Response:
        with portal.lock:
            groups = catalogue.groups[_obj(request)].values()
            return json_response({"results": [group_json(group) for group in groups]})

    def create_group(request: Request) -> Response:
        data = body_dict(request)
        with portal.lock:
            return json_response(group_json(catalogue.create_group(_obj(request), data)), 201)

    def get_group(request: Request) -> Response:
        with portal.lock:
            return json_response(group_json(catalogue.group(_obj(request), path(request, "group"))))

    def update_group(request: Request) -> Response:
        data = body_dict(request)
        with portal.lock:
            group = catalogue.group(_obj(request), path(request, "group"))
            group.update({k: data[k] for k in ("label", "displayOrder") if k in data})
            return json_response(group_json(group))

    def archive_group(request: Request) -> Response:
        with portal.lock:
            obj = _obj(request)
            name = catalogue.group(obj, path(request, "group"))["name"]
            if any(prop.group_name == name for prop in catalogue.properties[obj].values()):
                raise validation_error(f"Property group {name} still has properties")
            del catalogue.groups[obj][str(name)]
        return empty_response(204)

    def list_owners(request: Request) -> Response:
        limit = query_int(request, "limit", 100, high=500)
        start = query_int(request, "after", 0, low=0)
        email = (request.param("email") or "").lower()
        archived = query_bool(request, "archived")
        chosen = [
            owner
            for owner in portal.owners
            if owner["archived"] == archived and (not email or owner["email"] == email)
        ]
        data: dict[str, object] = {"results": chosen[start : start + limit]}
        if start + limit < len(chosen):
            data["paging"] = {"next": {"after": str(start + limit)}}
        return json_response(data)

    def get_owner(request: Request) -> Response:
        by_user_id = (request.param("idProperty") or "id") == "userId"
        return json_response(portal.owner(path(request, "owner"), by_user_id=by_user_id))

    router.add("GET", f"{PROPERTIES}/groups", "properties.groups.list", list_groups)
    router.add("POST", f"{PROPERTIES}/groups", "properties.groups.create", create_group)
    router.add("GET", f"{PROPERTIES}/groups/(?P<group>[^/]+)", "properties.groups.get", get_group)
    router.add("PATCH", f"{PROPERTIES}/groups/(?P<group>[^/]+)", "properties.groups.update", update_group)
    router.add("DELETE", f"{PROPERTIES}/groups/(?P<group>[^/]+)", "properties.groups.archive", archive_group)
    router.add("GET", PROPERTIES, "properties.list", list_properties)
    router.add("POST", PROPERTIES, "properties.create", create_property)
    router.add("GET", f"{PROPERTIES}/(?P<name>[^/]+)", "properties.get", get_property)
    router.add("PATCH", f"{PROPERTIES}/(?P<name>[^/]+)", "properties.update", update_property)
    router.add("DELETE", f"{PROPERTIES}/(?P<name>[^/]+)", "properties.archive", archive_property)
    # The client asks for /crm/v3/owners/ (trailing slash), the docs say /crm/v3/owners: accept both.
    router.add("GET", "/crm/v3/owners/?", "owners.list", list_owners)
    router.add("GET", "/crm/v3/owners/(?P<owner>[^/]+)", "owners.get", get_owner)
