"""The Dataverse stand-in: one HTTPS port per environment, serving both the Entra endpoints of its
tenant (``/{tenant}/v2.0/.well-known/openid-configuration``, ``/{tenant}/oauth2/v2.0/token``) and
the Web API (``/api/data/v9.2``). Point MSAL's authority at ``{url}/{tenant}`` and the org URL at
``{url}``.

Per data request, in order: route → count → injected latency/drop → bearer token (401 with
``WWW-Authenticate``, empty body; the one-shot session-expiry fault expires every token) →
service protection (``org.throttle_next`` or an injected ``throttle`` error: 429 + ``Retry-After``,
``0x80072322``) → the daily allowance (``faults.quota``; 429 with a ``Retry-After`` until midnight
UTC, a sandbox stand-in for the entitlement limits) → injected ``server_error``/``unavailable`` →
handler. Every answer carries ``OData-Version: 4.0``.

Token endpoint: ``client_credentials`` only; a wrong secret is 401 ``invalid_client``
(AADSTS7000215), a scope other than ``{org url}/.default`` 400 ``invalid_scope`` (AADSTS500011);
an injected ``throttle`` error on endpoint ``token`` is a 429 with ``Retry-After``.
"""

from __future__ import annotations

import functools
import hmac
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from leadbridge.sandbox.dynamics.api import API, WebApi
from leadbridge.sandbox.dynamics.batch import run_batch
from leadbridge.sandbox.dynamics.org import DataverseError, DataverseOrg
from leadbridge.sandbox.dynamics.seeding import seed_org
from leadbridge.sandbox.faults import apply_transport_faults
from leadbridge.sandbox.registry import OrgSpec, register_service
from leadbridge.sandbox.server import App, HTTPSServer, Request, Response, json_response, stop_all
from leadbridge.sandbox.tls import SandboxTLS

KIND = "dynamics"
INJECTED = {
    "server_error": DataverseError(500, "0x80040216", "An unexpected error occurred."),
    "unavailable": DataverseError(503, "0x80040216", "The service is temporarily unavailable."),
}


def throttle_error(retry_after: int, code: str = "0x80072322") -> DataverseError:
    messages = {
        "0x80072322": "Number of requests exceeded the limit of 6000 over time window of 300 seconds.",
        "0x80072321": "Combined execution time of incoming requests exceeded limit of 1,200,000 "
        "milliseconds over time window of 300 seconds. Decrease number of concurrent requests or "
        "reduce the duration of requests and try again later.",
        "0x80072326": "Number of concurrent requests exceeded the limit of 52.",
    }
    return DataverseError(
        429, code, messages.get(code, messages["0x80072322"]), (("Retry-After", str(retry_after)),)
    )


def _aad_error(
    status: int, error: str, code: int, text: str, headers: Sequence[tuple[str, str]] = ()
) -> Response:
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Timestamp: {now}",
        "error_codes": [code],
        "timestamp": now,
        "trace_id": "00000000-0000-0000-0000-000000000000",
    }
    return json_response(body, status, headers)


def org_app(org: DataverseOrg) -> App:
    api = WebApi(org)

    def openid(request: Request) -> Response:
        authority = f"https://{request.header('Host')}/{org.tenant_id}"
        return json_response(
            {
                "token_endpoint": f"{authority}/oauth2/v2.0/token",
                "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
                "issuer": f"https://login.microsoftonline.com/{org.tenant_id}/v2.0",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
            }
        )

    def token(request: Request) -> Response:
        form = request.form()
        if form.get("grant_type") != "client_credentials":
            return _aad_error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        if form.get("client_id") != org.client_id:
            return _aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{form.get('client_id')}' was not found in the directory.",
            )
        if not hmac.compare_digest(form.get("client_secret", ""), org.client_secret):
            return _aad_error(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the "
                "client secret value, not the client secret ID.",
            )
        scopes = form.get("scope", "").split()
        wanted = f"{org.url}/.default"
        if (
            wanted.rstrip("/") not in {s.rstrip("/") for s in scopes}
            and f"https://{request.header('Host')}/.default" not in scopes
        ):
            return _aad_error(
                400,
                "invalid_scope",
                500011,
                f"The resource principal named {scopes[0] if scopes else ''} was not found in the tenant.",
            )
        return json_response(
            {
                "token_type": "Bearer",
                "expires_in": 3599,
                "ext_expires_in": 3599,
                "access_token": org.issue_token(),
            }
        )

    def app(request: Request) -> Response:
        path = request.path
        prefix = f"/{org.tenant_id}"
        handler: Callable[[Request], Response]
        try:
            if path == f"{prefix}/v2.0/.well-known/openid-configuration" and request.method == "GET":
                endpoint, handler = "openid", openid
            elif path == f"{prefix}/oauth2/v2.0/token" and request.method == "POST":
                endpoint, handler = "token", token
            elif path == f"{API}/$batch" and request.method == "POST":
                endpoint, handler = "$batch", (lambda r: run_batch(org, r, api.dispatch))
            elif path.startswith(f"{API}/"):
                rest = path[len(API) + 1 :]
                endpoint, _ = api.endpoint(request.method, rest)
                handler = functools.partial(_dispatch, api, rest=rest)
            elif path.startswith("/") and path.split("/")[1:2] != [org.tenant_id] and "oauth2" in path:
                return _aad_error(400, "invalid_request", 90002, "Tenant not found.")
            else:
                raise DataverseError(404, "0x8006088a", f"Resource not found for the segment '{path}'.")
        except DataverseError as error:
            return _answer(json_response(error.body(), error.status, error.headers))
        org.counters.increment(endpoint)
        decision = org.faults.decide(endpoint)
        apply_transport_faults(decision)
        try:
            if endpoint in ("openid", "token"):
                if decision.error == "throttle":
                    return _aad_error(
                        429,
                        "temporarily_unavailable",
                        50196,
                        "The server is busy.",
                        (("Retry-After", str(org.throttle_retry_after)),),
                    )
                return handler(request)
            unauthorized = _admit(org, request)
            if unauthorized is not None:
                return _answer(unauthorized)
            if org.take_throttle() or decision.error == "throttle":
                raise throttle_error(org.throttle_retry_after, org.throttle_code)
            if not org.faults.quota.consume():
                raise throttle_error(org.faults.quota.seconds_to_reset(), "0x80072322")
            if decision.error:
                raise INJECTED.get(decision.error, INJECTED["server_error"])
            response = handler(request)
        except DataverseError as error:
            response = json_response(error.body(), error.status, error.headers)
        except json.JSONDecodeError as error:
            response = json_response({"error": {"code": "0x80060891", "message": str(error)}}, 400)
        except Exception as error:  # a sandbox bug: answer like Dataverse, but say it loudly
            traceback.print_exc(file=sys.stderr)
            response = json_response({"error": {"code": "0x80040216", "message": repr(error)}}, 500)
        return _answer(response)

    return app


def _dispatch(api: WebApi, request: Request, *, rest: str) -> Response:
    return api.dispatch(request, rest)


def _admit(org: DataverseOrg, request: Request) -> Response | None:
    scheme, _, token = (request.header("Authorization") or "").partition(" ")
    valid = scheme.lower() == "bearer" and org.token_valid(token.strip())
    if valid and org.faults.session_expires_now():
        org.expire_tokens()
        valid = False
    if valid:
        return None
    challenge = f"Bearer authorization_uri={org.authority}/oauth2/authorize, resource_id={org.url}/"
    return Response(401, b"", [("WWW-Authenticate", challenge)])


def _answer(response: Response) -> Response:
    return response.with_header("OData-Version", "4.0")


class DynamicsService:
    """Every Dataverse environment of a sandbox run; ``org(name)`` gives the Python handle."""

    kind = KIND

    def __init__(self, tls: SandboxTLS, specs: Sequence[OrgSpec], *, seed_data: bool = True) -> None:
        self.orgs: dict[str, DataverseOrg] = {}
        self._servers: list[HTTPSServer] = []
        context = tls.server_context()
        try:
            for number, spec in enumerate(specs, start=1):
                org = DataverseOrg(spec, number)
                server = HTTPSServer(org_app(org), context, name=f"dynamics-{spec.name}").start()
                org.url = server.url
                if seed_data:
                    seed_org(org)
                self._servers.append(server)
                self.orgs[spec.name] = org
        except BaseException:
            self.stop()
            raise

    def org(self, name: str) -> DataverseOrg:
        try:
            return self.orgs[name]
        except KeyError:
            raise KeyError(f"no Dynamics environment {name!r}; environments: {sorted(self.orgs)}") from None

    def describe(self) -> list[dict[str, Any]]:
        return [org.describe() for org in self.orgs.values()]

    def stop(self) -> None:
        stop_all(self._servers)
        self._servers.clear()


def start(tls: SandboxTLS, orgs: Sequence[OrgSpec]) -> DynamicsService:
    """Registry entry point: one server per environment, each seeded from its spec."""
    return DynamicsService(tls, orgs)


register_service(KIND, start)
