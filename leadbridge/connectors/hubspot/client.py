"""hubspot-api-client behind typed methods: token, retries, the error table, pacing, the quota guard.

Rules:
- every call goes through ``call``: the daily-quota guard first (stop before the configured share
  of the daily allowance is used — the ``X-HubSpot-RateLimit-Daily*`` headers of the last answer
  tell us), search calls through the 5/s ``Pacer``, then the one retry policy, with each failure
  translated by the error table (``errors.py``);
- the library's own urllib3 retries are off (``Retry(total=0)``): it skips POST/PATCH by default
  and, when told not to, ends in ``MaxRetryError`` instead of an ``ApiException`` (BEHAVIOR.md);
- answers are read raw (``_preload_content=False``): the generated models turn any 2xx they did
  not expect into ``None`` and rename keys to snake_case; raw JSON keeps status, headers and names;
- a 401 asks the token provider once for a fresh token (a rotated secret, an OAuth refresh); if it
  has none, the call fails with a message telling the admin what to fix;
- every HTTP answer is counted in ``calls`` and in the process metrics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import urllib3
from hubspot import HubSpot
from hubspot.crm.associations.v4.exceptions import ApiException as AssociationsApiException
from hubspot.crm.objects.exceptions import ApiException as ObjectsApiException
from hubspot.crm.properties.exceptions import ApiException as PropertiesApiException
from urllib3.util.retry import Retry

from leadbridge.connectors.hubspot.config import HubSpotConfig
from leadbridge.connectors.hubspot.errors import failure, translate
from leadbridge.connectors.hubspot.pacing import Pacer
from leadbridge.core.errors import (
    ConfigError,
    FatalConnectorError,
    QuotaExhausted,
    RetriableError,
    SessionExpired,
)
from leadbridge.core.retry import RetryPolicy
from leadbridge.ops.metrics import record_api_call

log = logging.getLogger("leadbridge.hubspot")
DEFAULT_HOST = "https://api.hubapi.com"
# One ApiException class per generated sub-package, and no shared base (crm-api-notes §5.3).
API_EXCEPTIONS = (ObjectsApiException, AssociationsApiException, PropertiesApiException)
TokenProvider = Callable[[], str | None]


@dataclass(frozen=True)
class Answer:
    """One successful HTTP answer: status, parsed JSON (``{}`` for none) and headers."""

    status: int
    data: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Apis:
    """The sub-APIs leadbridge uses, built once per token (each access builds a connection pool)."""

    objects: Any
    batch: Any
    search: Any
    associations: Any
    properties: Any


def build_apis(config: HubSpotConfig, token: str) -> Apis:
    """The real client for one portal, library retries off (module rules)."""
    options: dict[str, Any] = {
        "access_token": token,
        "host": (config.base_url or DEFAULT_HOST).rstrip("/"),
        "retry": Retry(total=0, raise_on_status=False),
    }
    if config.ca_file:
        options["ssl_ca_cert"] = config.ca_file  # urllib3 ignores REQUESTS_CA_BUNDLE
    hs = HubSpot(**options)
    return Apis(
        objects=hs.crm.objects.basic_api,
        batch=hs.crm.objects.batch_api,
        search=hs.crm.objects.search_api,
        associations=hs.crm.associations.v4.batch_api,
        properties=hs.crm.properties.core_api,
    )


def _decode(raw: Any) -> dict[str, Any]:
    payload = raw.data if raw is not None else b""
    if not payload:
        return {}
    data = json.loads(payload)
    return data if isinstance(data, dict) else {"results": data}


class HubSpotClient:
    """One portal, reached through hubspot-api-client under the module rules."""

    def __init__(
        self,
        config: HubSpotConfig,
        *,
        retry: RetryPolicy | None = None,
        pacer: Pacer | None = None,
        token_provider: TokenProvider | None = None,
        api_factory: Callable[[HubSpotConfig, str], Apis] = build_apis,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.pacer = pacer or Pacer(config.search_per_second)
        self.token_provider: TokenProvider = token_provider or (lambda: config.secret("access_token"))
        self._factory = api_factory
        self._apis: Apis | None = None
        self.token: str | None = None
        self.calls = 0
        self.usage: tuple[int, int] | None = None  # (used, total) of the daily allowance

    @property
    def apis(self) -> Apis:
        if self._apis is None:
            token = self.token or self.token_provider()
            if not token:
                raise ConfigError(f"connection {self.config.name}: HubSpot needs an access_token")
            self.token = token
            self._apis = self._factory(self.config, token)
        return self._apis

    # -- the guarded call ------------------------------------------------------------------
    def _count(self, status: int | None) -> None:
        self.calls += 1
        record_api_call(self.config.name, None if status is not None and status < 300 else str(status))

    def _remember(self, headers: dict[str, str]) -> None:
        total = headers.get("x-hubspot-ratelimit-daily")
        left = headers.get("x-hubspot-ratelimit-daily-remaining")
        if total and left and total.isdigit() and left.isdigit():
            self.usage = (int(total) - int(left), int(total))

    def _guard(self) -> None:
        if self.usage is None:
            return
        used, total = self.usage
        if total > 0 and used / total >= self.config.quota_stop_share:
            raise QuotaExhausted(
                f"connection {self.config.name}: {used}/{total} daily HubSpot API calls used, at or past "
                f"the configured stop share {self.config.quota_stop_share:.0%}; resuming after the reset"
            )

    def call(self, what: str, fn: Callable[[Apis], Any], *, search: bool = False) -> Answer:
        """Run ``fn(apis)`` (a raw-answer call) under the module rules; the parsed answer."""
        label = f"{self.config.name} {what}"

        def once() -> Answer:
            self._guard()
            apis = self.apis
            if search:
                self.pacer.wait()
            try:
                raw = fn(apis)
            except API_EXCEPTIONS as error:
                if search:
                    self.pacer.settle()
                self._count(error.status)
                found = failure(error.status, error.body, error.headers, error.reason)
                raise translate(found, what) from None
            except urllib3.exceptions.HTTPError as error:
                self._count(None)
                raise RetriableError(f"{label}: connection failed: {error}") from None
            if search:
                self.pacer.settle()
            headers = {key.lower(): value for key, value in dict(raw.headers or {}).items()}
            self._count(raw.status)
            self._remember(headers)
            return Answer(raw.status, _decode(raw), headers)

        refreshed = False

        def attempt() -> Answer:
            # The token refresh happens inside the policy run: one budget for the whole call.
            nonlocal refreshed
            while True:
                try:
                    return once()
                except SessionExpired as error:
                    fresh = None if refreshed else self.token_provider()
                    if not fresh or fresh == self.token:
                        raise FatalConnectorError(f"connection {self.config.name}: {error}") from None
                    log.info("%s: token refused during %s; using the refreshed token", self.config.name, what)
                    refreshed, self.token, self._apis = True, fresh, None

        return self.retry.call(attempt, what=label)

    # -- typed methods -----------------------------------------------------------------------
    def search(self, obj: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /crm/v3/objects/{obj}/search`` (paced to the search bucket)."""
        answer = self.call(
            f"{obj} search",
            lambda a: a.search.do_search(obj, public_object_search_request=body, _preload_content=False),
            search=True,
        )
        return answer.data

    def batch_read(
        self, obj: str, ids: list[str], properties: list[str], *, id_property: str | None = None
    ) -> dict[str, Any]:
        """``POST …/batch/read`` of ≤ 100 ids; unknown ids come back in ``errors`` (a 207)."""
        body: dict[str, Any] = {"inputs": [{"id": i} for i in ids], "properties": properties}
        if id_property:
            body["idProperty"] = id_property
        return self.call(
            f"{obj} batch read",
            lambda a: a.batch.read(
                obj, batch_read_input_simple_public_object_id=body, _preload_content=False
            ),
        ).data

    def batch_write(self, obj: str, operation: str, inputs: list[dict[str, Any]]) -> Answer:
        """``POST …/batch/{create|update|upsert|archive}`` of ≤ 100 inputs; a 207 lists per-input
        errors (archive answers 204 and ignores unknown ids)."""
        parameter = {
            "create": "batch_input_simple_public_object_batch_input_for_create",
            "update": "batch_input_simple_public_object_batch_input",
            "upsert": "batch_input_simple_public_object_batch_input_upsert",
            "archive": "batch_input_simple_public_object_id",
        }[operation]
        body = {"inputs": inputs}
        return self.call(
            f"{obj} batch {operation}",
            lambda a: getattr(a.batch, operation)(obj, **{parameter: body}, _preload_content=False),
        )

    def associated(self, obj: str, to_obj: str, ids: list[str]) -> dict[str, list[tuple[str, set[int]]]]:
        """Associations v4 batch read: ``{from id: [(to id, type ids)]}`` (ids without any omitted)."""
        body = {"inputs": [{"id": i} for i in ids]}
        data = self.call(
            f"{obj}→{to_obj} associations",
            lambda a: a.associations.get_page(
                obj, to_obj, batch_input_public_fetch_associations_batch_request=body, _preload_content=False
            ),
        ).data
        found: dict[str, list[tuple[str, set[int]]]] = {}
        for result in data.get("results") or []:
            targets = [
                (str(t["toObjectId"]), {int(k.get("typeId", 0)) for k in t.get("associationTypes") or []})
                for t in result.get("to") or []
            ]
            found[str((result.get("from") or {}).get("id"))] = targets
        return found

    def properties(self, obj: str) -> list[dict[str, Any]]:
        """Every property definition of ``obj`` (HubSpot's JSON names)."""
        answer = self.call(f"{obj} properties", lambda a: a.properties.get_all(obj, _preload_content=False))
        return list(answer.data.get("results") or [])

    def create_property(self, obj: str, body: dict[str, Any]) -> None:
        """``POST /crm/v3/properties/{obj}`` (used to install leadbridge's own properties)."""
        self.call(
            f"{obj} create property {body.get('name')}",
            lambda a: a.properties.create(obj, property_create=body, _preload_content=False),
        )
