"""The Salesforce stand-in: one HTTPS port per org, so each org's ``instance_url`` points at it.

Per request, in the order Salesforce applies them: route → count → injected latency/drop →
authenticate the session (401 ``INVALID_SESSION_ID``; one-shot expiry fault) → daily quota
(403 ``REQUEST_LIMIT_EXCEEDED``) → injected error → handler. Every response carries
``Sforce-Limit-Info: api-usage=USED/MAX``.

Injected error kinds (``org.faults.set(endpoint, error_rate=…, error=KIND)``):
``server_error`` (500 UNKNOWN_EXCEPTION), ``unavailable`` (503 SERVER_UNAVAILABLE),
``lock`` (400 UNABLE_TO_LOCK_ROW), ``limit`` (403 REQUEST_LIMIT_EXCEEDED),
``session`` (401 INVALID_SESSION_ID).
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from leadbridge.sandbox.faults import apply_transport_faults
from leadbridge.sandbox.registry import OrgSpec, register_service
from leadbridge.sandbox.salesforce.errors import INVALID_SESSION, REQUEST_LIMIT, SalesforceApiError
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sandbox.salesforce.rest import SalesforceRest
from leadbridge.sandbox.salesforce.seeding import seed_org
from leadbridge.sandbox.server import App, HTTPSServer, NoRoute, Request, Response, json_response, stop_all
from leadbridge.sandbox.tls import SandboxTLS

KIND = "salesforce"
PUBLIC_ENDPOINTS = frozenset({"login.soap", "oauth.token", "versions"})
INJECTED: dict[str, SalesforceApiError] = {
    "server_error": SalesforceApiError(
        500,
        "UNKNOWN_EXCEPTION",
        "An unexpected error occurred. Please include this ErrorId if you contact "
        "support: 1234567890-12345 (-1234567890)",
    ),
    "unavailable": SalesforceApiError(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable"),
    "lock": SalesforceApiError(
        400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
    ),
    "limit": REQUEST_LIMIT,
    "session": INVALID_SESSION,
}


def _bearer(request: Request) -> str:
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    return token.strip() if scheme.lower() in ("bearer", "oauth") else ""


def org_app(org: SalesforceOrg) -> App:
    """The request pipeline of one org (see the module docstring for the order of checks)."""
    router = SalesforceRest(org).router

    def app(request: Request) -> Response:
        try:
            match = router.resolve(request.method, request.path)
        except NoRoute as missing:
            error = (
                SalesforceApiError(
                    405,
                    "METHOD_NOT_ALLOWED",
                    f"HTTP Method '{request.method}' not allowed. "
                    f"Allowed are {','.join(sorted(set(missing.allowed)))}",
                )
                if missing.allowed
                else SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
            )
            return _with_usage(org, json_response(error.body(), error.status))
        org.counters.increment(match.endpoint)
        decision = org.faults.decide(match.endpoint)
        apply_transport_faults(decision)
        request.params = match.params
        try:
            if match.endpoint not in PUBLIC_ENDPOINTS:
                _admit(org, request)
            if decision.error:
                raise INJECTED.get(decision.error, INJECTED["server_error"])
            response = match.handler(request)
        except SalesforceApiError as error:
            response = json_response(error.body(), error.status)
        except json.JSONDecodeError as error:  # a body that is not JSON where JSON is expected
            response = json_response([{"errorCode": "JSON_PARSER_ERROR", "message": str(error)}], 400)
        except Exception as error:  # a sandbox bug: answer like Salesforce, but say it loudly
            traceback.print_exc(file=sys.stderr)
            response = json_response([{"errorCode": "UNKNOWN_EXCEPTION", "message": repr(error)}], 500)
        return _with_usage(org, response)

    return app


def _admit(org: SalesforceOrg, request: Request) -> None:
    token = _bearer(request)
    user_id = org.user_for(token) if token else None
    if user_id is None:
        raise INVALID_SESSION
    if org.faults.session_expires_now():
        org.revoke(token)
        raise INVALID_SESSION
    if not org.faults.quota.consume():
        raise REQUEST_LIMIT
    request.context["user_id"] = user_id


def _with_usage(org: SalesforceOrg, response: Response) -> Response:
    quota = org.faults.quota
    limit = quota.limit if quota.limit is not None else 5_000_000
    return response.with_header("Sforce-Limit-Info", f"api-usage={quota.used}/{limit}")


class SalesforceService:
    """Every Salesforce org of a sandbox run; ``org(name)`` gives the Python handle."""

    kind = KIND

    def __init__(self, tls: SandboxTLS, specs: Sequence[OrgSpec], *, seed_data: bool = True) -> None:
        self.orgs: dict[str, SalesforceOrg] = {}
        self._servers: list[HTTPSServer] = []
        context = tls.server_context()
        try:
            for number, spec in enumerate(specs, start=1):
                org = SalesforceOrg(spec, number)
                if seed_data:
                    seed_org(org)
                server = HTTPSServer(org_app(org), context, name=f"salesforce-{spec.name}").start()
                org.instance_url = server.url
                self._servers.append(server)
                self.orgs[spec.name] = org
        except BaseException:
            self.stop()
            raise

    def org(self, name: str) -> SalesforceOrg:
        """The org called ``name`` (KeyError listing the orgs otherwise)."""
        try:
            return self.orgs[name]
        except KeyError:
            raise KeyError(f"no Salesforce org {name!r}; orgs: {sorted(self.orgs)}") from None

    def describe(self) -> list[dict[str, Any]]:
        """One ``sandbox serve --json`` entry per org."""
        return [org.describe() for org in self.orgs.values()]

    def stop(self) -> None:
        """Stop every org's server (in parallel)."""
        stop_all(self._servers)
        self._servers.clear()


def start(tls: SandboxTLS, orgs: Sequence[OrgSpec]) -> SalesforceService:
    """Registry entry point: start one server per org, each seeded from its spec."""
    return SalesforceService(tls, orgs)


register_service(KIND, start)
