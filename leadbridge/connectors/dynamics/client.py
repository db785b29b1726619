"""MSAL + requests behind typed methods: the token, the one retry policy, the error table, paging
and ``$batch``.

Rules:
- the token comes from MSAL's ``ConfidentialClientApplication`` (client credentials) on our own
  ``requests`` session (``trust_env = False`` and ``verify = ca_file``: MSAL's own session would let
  ``REQUESTS_CA_BUNDLE`` override the CA); ``instance_discovery=False`` so a custom authority never
  calls login.microsoftonline.com first; MSAL caches the token until it expires;
- every call goes through ``call``: the one retry policy, each failure translated by the error table;
  the answer's ``Retry-After`` travels on the error to the policy (never ``time.sleep`` here); a
  throttle asking for longer than ``max_throttle_wait`` is ``QuotaExhausted`` — the run stops with
  its checkpoint instead of holding a worker;
- a 401 drops MSAL's cached token (``remove_tokens_for_client``) and the call is tried once more
  inside the same policy run; MSAL's refusal of the credentials is fatal with a message naming
  what to check; an unreachable or busy token endpoint is retriable;
- every HTTP request (tokens included) is counted in ``calls``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msal
import requests

from leadbridge.connectors.dynamics.config import DynamicsConfig
from leadbridge.connectors.dynamics.errors import DYNAMICS_ERRORS, error_of
from leadbridge.core.errors import (
    FatalConnectorError,
    LeadbridgeError,
    QuotaExhausted,
    RetriableError,
    SessionExpired,
)
from leadbridge.core.retry import RetryPolicy, parse_retry_after
from leadbridge.ops.metrics import record_api_call

log = logging.getLogger("leadbridge.dynamics")
T = TypeVar("T")
# Entra answers that mean "not now" rather than "not you".
_TRANSIENT_TOKEN_ERRORS = frozenset({"temporarily_unavailable", "server_error", "request_timeout"})
MAX_PAGE = 5000


def http_session(config: DynamicsConfig) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace ``verify`` (BEHAVIOR.md)
    if config.ca_file:
        session.verify = config.ca_file
    return session


@dataclass(frozen=True)
class BatchPart:
    """One request of a ``$batch``: ``path`` is relative to the API root (``leads(…)?$select=…``)."""

    method: str
    path: str
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PartAnswer:
    """One answer of a ``$batch``: status, headers and the JSON body (``None`` when empty)."""

    status: int
    headers: Mapping[str, str]
    body: Any


class DataverseClient:
    """One environment, reached through MSAL + requests under the module rules."""

    def __init__(
        self,
        config: DynamicsConfig,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.session = session or http_session(config)
        self.session.hooks["response"].append(self._count)
        self.org_url = config.org_url.rstrip("/")
        self.api = f"{self.org_url}/api/data/v{config.api_version}"
        self._app: msal.ConfidentialClientApplication | None = None
        self.calls = 0

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        record_api_call(self.config.name, None if response.status_code < 300 else str(response.status_code))

    # -- the token ---------------------------------------------------------------------------------
    @property
    def app(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            authority = f"{self.config.authority_url.rstrip('/')}/{self.config.tenant_id}"
            try:
                self._app = msal.ConfidentialClientApplication(
                    self.config.client_id,
                    client_credential=self.config.secret("client_secret"),
                    authority=authority,
                    http_client=self.session,
                    instance_discovery=False,
                )
            except requests.RequestException as error:
                raise RetriableError(
                    f"connection {self.config.name}: cannot reach {authority}: {error}"
                ) from None
            except ValueError as error:  # discovery refused: a wrong tenant or authority
                raise FatalConnectorError(
                    f"connection {self.config.name}: Entra ID refused the authority {authority} ({error}); "
                    "check tenant_id and authority_url"
                ) from None
        return self._app

    def token(self) -> str:
        scope = f"{self.org_url}/.default"
        try:
            result = self.app.acquire_token_for_client(scopes=[scope])
        except requests.RequestException as error:
            raise RetriableError(f"connection {self.config.name}: token request failed: {error}") from None
        if result and "access_token" in result:
            return str(result["access_token"])
        kind = str((result or {}).get("error") or "unknown_error")
        text = (
            str((result or {}).get("error_description") or "")
            .split(" Trace ID", 1)[0]
            .split(" Timestamp", 1)[0]
        )
        if kind in _TRANSIENT_TOKEN_ERRORS:
            raise RetriableError(f"connection {self.config.name}: Entra ID is busy ({kind}: {text[:200]})")
        raise FatalConnectorError(
            f"connection {self.config.name}: Entra ID refused the client credentials ({kind}: {text}); "
            f"check client_id, client_secret and tenant_id, and that the scope {scope} "
            "is the environment's URL"
        )

    def refresh(self) -> None:
        """Forget the cached token so the next call asks Entra ID for a new one."""
        if self._app is not None:
            self._app.remove_tokens_for_client()

    # -- the guarded call ----------------------------------------------------------------------------
    def _error(self, response: requests.Response, what: str) -> LeadbridgeError:
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text[:300]
        code, message = error_of(body)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if (
            response.status_code == 429
            and retry_after is not None
            and retry_after > self.config.max_throttle_wait
        ):
            return QuotaExhausted(
                f"connection {self.config.name}: Dataverse throttles {what} for {retry_after:.0f} s "
                f"({code}: {message}); stopping until then"
            )
        detail = message or response.headers.get("WWW-Authenticate", "")[:120] or response.reason
        return DYNAMICS_ERRORS.error_for(
            response.status_code, code, f"{what}: {detail}", retry_after=retry_after
        )

    def call(self, what: str, fn: Callable[[dict[str, str]], requests.Response]) -> requests.Response:
        """Run ``fn(headers)`` (one HTTP request) under the policy, the error table and one token refresh."""
        refreshed = False

        def once() -> requests.Response:
            headers = {
                "Authorization": f"Bearer {self.token()}",
                "Accept": "application/json",
                "OData-Version": "4.0",
                "OData-MaxVersion": "4.0",
                "If-None-Match": "null",
            }
            try:
                response = fn(headers)
            except requests.RequestException as error:
                raise RetriableError(f"{what}: connection failed: {error}") from None
            if response.status_code >= 400:
                raise self._error(response, what)
            return response

        def attempt() -> requests.Response:
            nonlocal refreshed
            try:
                return once()
            except SessionExpired:
                if refreshed:
                    raise
                log.info("%s: token refused during %s; asking for a new one", self.config.name, what)
                refreshed = True
                self.refresh()
                return once()

        return self.retry.call(attempt, what=f"{self.config.name} {what}")

    def request(
        self,
        what: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = path if path.startswith("https://") or path.startswith("http://") else f"{self.api}/{path}"

        def send(base: dict[str, str]) -> requests.Response:
            merged = {**base, **(headers or {})}
            if body is not None:
                merged["Content-Type"] = "application/json"
            return self.session.request(
                method,
                url,
                params=params,
                headers=merged,
                data=json.dumps(body) if body is not None else None,
                timeout=self.config.timeout,
            )

        return self.call(what, send)

    def get(self, what: str, path: str, **kwargs: Any) -> Any:
        return self.request(what, "GET", path, **kwargs).json()

    # -- reading ------------------------------------------------------------------------------------
    def pages(
        self, entity_set: str, params: Mapping[str, str], *, page_size: int, prefer: Sequence[str] = ()
    ) -> Iterator[dict[str, Any]]:
        """Each page's body of a query, following the absolute ``@odata.nextLink`` (sent with the
        same ``Prefer``); the last page carries ``@odata.deltaLink`` when change tracking is on."""
        headers = {"Prefer": ",".join([f"odata.maxpagesize={min(page_size, MAX_PAGE)}", *prefer])}
        page = self.get(f"query {entity_set}", entity_set, params=params, headers=headers)
        while True:
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            page = self.get(f"query {entity_set} (next page)", next_link, headers=headers)

    # -- $batch ------------------------------------------------------------------------------------
    def batch(self, parts: Sequence[BatchPart]) -> list[PartAnswer]:
        """Send ``parts`` as one ``$batch`` with ``odata.continue-on-error``; one answer per part."""
        boundary = f"batch_{uuid.uuid4()}"
        body = compose_batch(parts, boundary, api_path=self.api.split("://", 1)[-1].split("/", 1)[-1])

        def send(base: dict[str, str]) -> requests.Response:
            headers = {
                **base,
                "Content-Type": f'multipart/mixed; boundary="{boundary}"',
                "Prefer": "odata.continue-on-error",
            }
            return self.session.post(
                f"{self.api}/$batch", data=body, headers=headers, timeout=self.config.timeout
            )

        response = self.call(f"$batch of {len(parts)}", send)
        answers = parse_batch(response.headers.get("Content-Type", ""), response.content)
        if len(answers) != len(parts):
            raise RetriableError(
                f"{self.config.name} $batch: {len(answers)} answers for {len(parts)} requests; sending again"
            )
        return answers


def compose_batch(parts: Sequence[BatchPart], boundary: str, *, api_path: str) -> bytes:
    """The ``multipart/mixed`` body: one ``application/http`` part per request (no change sets:
    each item must succeed or fail on its own)."""
    chunks = []
    for part in parts:
        lines = [
            f"--{boundary}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            "",
            f"{part.method} /{api_path}/{part.path} HTTP/1.1",
        ]
        headers = dict(part.headers)
        if part.body is not None:
            headers["Content-Type"] = "application/json; type=entry"
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append("")
        lines.append(json.dumps(part.body) if part.body is not None else "")
        chunks.append("\r\n".join(lines))
    return ("\r\n".join(chunks) + f"\r\n--{boundary}--\r\n").encode("utf-8")


def _boundary(content_type: str) -> str:
    for piece in content_type.split(";")[1:]:
        name, _, value = piece.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise RetriableError(f"a $batch answer without a multipart boundary ({content_type!r})")


def parse_batch(content_type: str, content: bytes) -> list[PartAnswer]:
    """The answers of a ``$batch`` response, in order (change-set answers flattened)."""
    text = content.decode("utf-8").replace("\r\n", "\n")
    marker = f"--{_boundary(content_type)}"
    answers: list[PartAnswer] = []
    for piece in text.split(marker)[1:]:
        if piece.startswith("--"):
            break
        head, _, rest = piece.strip("\n").partition("\n\n")
        if "multipart/mixed" in head.lower():
            inner_type = next(line for line in head.split("\n") if line.lower().startswith("content-type"))
            answers += parse_batch(inner_type.split(":", 1)[1], rest.encode("utf-8"))
            continue
        status_line, _, after = rest.partition("\n")
        header_text, _, body_text = after.partition("\n\n")
        headers = {}
        for line in header_text.split("\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip()] = value.strip()
        body_text = body_text.strip()
        try:
            body = json.loads(body_text) if body_text else None
        except ValueError:
            body = body_text
        answers.append(PartAnswer(int(status_line.split()[1]), headers, body))
    return answers


__all__ = ["BatchPart", "DataverseClient", "PartAnswer", "compose_batch", "http_session", "parse_batch"]
