"""Routes of the webhooks v3 management API (``/webhooks/v3/{appId}/settings|subscriptions``).

They let a separate process (``leadbridge sandbox serve`` + the demo) point a portal's app at a
receiver with the real client's ``hs.webhooks`` APIs. As on HubSpot they authenticate with the
developer API key (``?hapikey=``), not the private-app token; ``app.py`` checks it. Deliveries are
signed with the portal's ``client_secret`` (listed by ``describe()``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadbridge.sandbox.hubspot.errors import HubSpotError, validation_error
from leadbridge.sandbox.hubspot.objects import iso
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.webhooks import Subscription
from leadbridge.sandbox.hubspot.wire import body_dict, path
from leadbridge.sandbox.server import Request, Response, Router, empty_response, json_response

BASE = "/webhooks/v3/(?P<app>[0-9]+)"
_OBJECT_TYPE_IDS = {"contact": "0-1", "company": "0-2", "deal": "0-3"}


def add_routes(router: Router, portal: Portal) -> None:
    """Register the webhook settings and subscription routes bound to ``portal``."""
    hooks = portal.webhooks
    stamps: dict[str, datetime] = {}  # createdAt of the settings and of each subscription

    def app_of(request: Request) -> None:
        if path(request, "app") != str(portal.app_id):
            raise HubSpotError(
                404, "OBJECT_NOT_FOUND", f"App {path(request, 'app')} not found in this portal"
            )

    def settings_json() -> dict[str, Any]:
        if hooks.settings is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "No webhook settings for this app")
        now = iso(portal.clock.now())
        return {
            "targetUrl": hooks.settings.target_url,
            "throttling": {"maxConcurrentRequests": 1},
            "createdAt": iso(stamps["settings"]) if "settings" in stamps else now,
            "updatedAt": now,
        }

    def subscription_json(sub: Subscription) -> dict[str, Any]:
        created = stamps.setdefault(f"sub-{sub.id}", portal.clock.now())
        data: dict[str, Any] = {
            "id": str(sub.id),
            "eventType": sub.event_type,
            "active": sub.active,
            "objectTypeId": _OBJECT_TYPE_IDS[sub.object_type],
            "createdAt": iso(created),
            "updatedAt": iso(portal.clock.now()),
        }
        if sub.property_name:
            data["propertyName"] = sub.property_name
        return data

    def put_settings(request: Request) -> Response:
        app_of(request)
        data = body_dict(request)
        target = str(data.get("targetUrl") or "")
        if not target.startswith(("http://", "https://")):
            raise validation_error(f"targetUrl must be an http(s) URL, got '{target}'")
        with portal.lock:
            if hooks.settings is None:
                hooks.configure(target, portal.client_secret)
            else:
                hooks.tune(target_url=target)
            stamps.setdefault("settings", portal.clock.now())
            return json_response(settings_json())

    def get_settings(request: Request) -> Response:
        app_of(request)
        return json_response(settings_json())

    def delete_settings(request: Request) -> Response:
        app_of(request)
        hooks.clear_target()
        stamps.pop("settings", None)
        return empty_response(204)

    def create_subscription(request: Request) -> Response:
        app_of(request)
        data = body_dict(request)
        try:
            sub = hooks.subscribe(
                str(data.get("eventType")), data.get("propertyName"), active=bool(data.get("active", True))
            )
        except ValueError as error:
            raise validation_error(str(error)) from None
        return json_response(subscription_json(sub), 201)

    def list_subscriptions(request: Request) -> Response:
        app_of(request)
        return json_response({"results": [subscription_json(sub) for sub in hooks.subscriptions]})

    def get_subscription(request: Request) -> Response:
        app_of(request)
        wanted = int(path(request, "sub"))
        for sub in hooks.subscriptions:
            if sub.id == wanted:
                return json_response(subscription_json(sub))
        raise HubSpotError(404, "OBJECT_NOT_FOUND", "Subscription not found")

    def update_subscription(request: Request) -> Response:
        app_of(request)
        data = body_dict(request)
        try:
            sub = hooks.set_active(int(path(request, "sub")), bool(data.get("active", True)))
        except KeyError:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", "Subscription not found") from None
        return json_response(subscription_json(sub))

    def delete_subscription(request: Request) -> Response:
        app_of(request)
        hooks.unsubscribe(int(path(request, "sub")))
        return empty_response(204)

    router.add("PUT", f"{BASE}/settings", "webhooks.settings.update", put_settings)
    router.add("GET", f"{BASE}/settings", "webhooks.settings.get", get_settings)
    router.add("DELETE", f"{BASE}/settings", "webhooks.settings.clear", delete_settings)
    router.add("POST", f"{BASE}/subscriptions", "webhooks.subscriptions.create", create_subscription)
    router.add("GET", f"{BASE}/subscriptions", "webhooks.subscriptions.list", list_subscriptions)
    router.add("GET", f"{BASE}/subscriptions/(?P<sub>[0-9]+)", "webhooks.subscriptions.get", get_subscription)
    router.add(
        "PATCH", f"{BASE}/subscriptions/(?P<sub>[0-9]+)", "webhooks.subscriptions.update", update_subscription
    )
    router.add(
        "DELETE",
        f"{BASE}/subscriptions/(?P<sub>[0-9]+)",
        "webhooks.subscriptions.archive",
        delete_subscription,
    )
