"""The HTTP pipeline of one portal: route → count → authenticate → faults → limits → handler.

Every request is counted by endpoint (``contacts.search``, ``contacts.batch.upsert``, …) before
anything can refuse it, so benchmarks see retries and refusals too. Injected error kinds (set with
``portal.faults.set(endpoint, error_rate=…, error=kind)``) are translated into HubSpot's answers:
``server_error`` 500, ``bad_gateway`` 502, ``unavailable`` 503, ``gateway_timeout`` 504,
``rate_limit`` 429 (ten-secondly), ``locked`` 423 and ``migration`` 477 (with ``Retry-After``).
"""

from __future__ import annotations

from leadbridge.sandbox.faults import apply_transport_faults
from leadbridge.sandbox.hubspot import routes_associations, routes_objects, routes_schema, routes_webhooks
from leadbridge.sandbox.hubspot.errors import (
    HubSpotError,
    correlation_id,
    rate_limited,
    unauthorized,
    validation_error,
)
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.server import App, NoRoute, Request, Response, Router, json_response

_FAULTS: dict[str, tuple[int, str, str]] = {
    "server_error": (500, "INTERNAL_ERROR", "internal error"),
    "bad_gateway": (502, "BAD_GATEWAY", "Bad gateway"),
    "unavailable": (503, "SERVICE_UNAVAILABLE", "Service unavailable"),
    "gateway_timeout": (504, "GATEWAY_TIMEOUT", "Gateway timeout"),
    "locked": (423, "LOCKED", "The portal is locked for a bulk sync; try again in a few seconds"),
    "migration": (477, "MIGRATION_IN_PROGRESS", "Portal migration in progress"),
}


def build_router(portal: Portal) -> Router:
    """Every HubSpot route of the stand-in, bound to one portal."""
    router = Router()
    routes_objects.add_routes(router, portal)
    routes_schema.add_routes(router, portal)
    routes_associations.add_routes(router, portal)
    routes_webhooks.add_routes(router, portal)
    return router


def _fault_response(kind: str, portal: Portal) -> Response:
    if kind == "rate_limit":
        response = json_response(rate_limited("TEN_SECONDLY_ROLLING"), 429)
        if portal.limits.retry_after is not None:
            response.with_header("Retry-After", str(portal.limits.retry_after))
        return response
    status, category, message = _FAULTS.get(kind, _FAULTS["server_error"])
    body = {"status": "error", "message": message, "correlationId": correlation_id(), "category": category}
    response = json_response(body, status)
    if status == 477:
        response.with_header("Retry-After", "1")
    return response


def make_app(portal: Portal) -> App:
    """The request handler serving ``portal``."""
    router = build_router(portal)
    expected = f"Bearer {portal.access_token}"

    def app(request: Request) -> Response:
        try:
            match = router.resolve(request.method, request.path)
        except NoRoute as missing:
            portal.counters.increment("unrouted")
            status = 405 if missing.allowed else 404
            body = {"status": "error", "message": f"No route for {request.method} {request.path}",
                    "correlationId": correlation_id(), "category": "OBJECT_NOT_FOUND"}  # fmt: skip
            return json_response(body, status)
        portal.counters.increment(match.endpoint)
        if match.endpoint.startswith("webhooks."):  # app management: the developer API key
            authorized = request.param("hapikey") == portal.developer_api_key
        else:
            authorized = request.header("Authorization") == expected
        if not authorized:
            return json_response(unauthorized(), 401)
        decision = portal.faults.decide(match.endpoint)
        apply_transport_faults(decision)
        if decision.error:
            return _fault_response(decision.error, portal)
        verdict = portal.limits.admit(search=match.endpoint.endswith(".search"))
        if verdict.policy is not None:
            response = json_response(rate_limited(verdict.policy), 429, verdict.headers)
            if portal.limits.retry_after is not None:
                response.with_header("Retry-After", str(portal.limits.retry_after))
            return response
        request.params = match.params
        try:
            response = match.handler(request)
        except HubSpotError as error:
            response = json_response(error.body(), error.status)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # A body of the wrong shape (a list where an object belongs, "abc" as a type id…):
            # HubSpot answers 400 for those, and a dropped connection would hide the cause.
            message = f"Invalid input: {type(error).__name__}: {error}"
            response = json_response(validation_error(message).body(), 400)
        response.headers += verdict.headers
        return response

    return app
