"""simple-salesforce behind typed methods: authentication, retries, the error table, the quota guard.

Rules:
- every call goes through ``_call``: the quota guard first (stop before the configured share of the
  daily allocation is used — ``Sforce-Limit-Info`` of the previous answer tells us), then the one
  retry policy, with each Salesforce error translated by the error table (``errors.py``);
- an error answer's ``Retry-After`` (seconds or an HTTP-date) reaches the policy: simple-salesforce
  raises its own exceptions without the response headers, so the session's response hook keeps
  the last answer's header (per thread) and ``translate`` attaches it;
- an expired session is refreshed by logging in again and the call is tried once more, inside the
  same policy run: a login made inside a retried call is tried once (the policy does not nest), so
  an org that is down costs one budget, not one budget per login try; a client built from a bare
  session id cannot log in, so expiry is fatal for it with a message saying so;
- only ``Salesforce.*`` methods are used (``restful``, ``query``): ``SFType`` calls re-login without
  bound on a 401 (see BEHAVIOR.md);
- every HTTP request (logins included) is counted in ``calls``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceError

from leadbridge.connectors.salesforce.config import SalesforceConfig
from leadbridge.connectors.salesforce.errors import SALESFORCE_ERRORS, error_code, translate
from leadbridge.core.errors import (
    ConfigError,
    FatalConnectorError,
    QuotaExhausted,
    RetriableError,
    SessionExpired,
    SkipRecord,
)
from leadbridge.core.retry import RetryPolicy, parse_retry_after
from leadbridge.ops.metrics import record_api_call

log = logging.getLogger("leadbridge.salesforce")
T = TypeVar("T")
API_VERSION = "59.0"
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")


class _RouteTo(HTTPAdapter):
    """Send requests for a login host to ``login_url`` instead (keeps path and query)."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target.rstrip("/")

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        parts = urlsplit(request.url or "")
        request.url = self.target + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, *args, **kwargs)


def http_session(config: SalesforceConfig) -> requests.Session:
    """A requests session that trusts only the configured CA and routes logins per ``login_url``."""
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE would replace ``verify`` (BEHAVIOR.md)
    if config.ca_file:
        session.verify = config.ca_file
    login_url = config.login_url
    if login_url:
        hosts = [*LOGIN_HOSTS, f"{config.domain}.salesforce.com" if config.domain else None]
        for host in filter(None, hosts):
            session.mount(f"https://{host}/", _RouteTo(login_url))
    return session


def _host(instance_url: str | None) -> str | None:
    if not instance_url:
        return None
    return instance_url.split("://", 1)[-1].rstrip("/")


def login(config: SalesforceConfig, session: requests.Session) -> Salesforce:
    """Build a client for the configured auth kind (password, jwt, client_credentials, session)."""
    common: dict[str, Any] = {"session": session, "version": API_VERSION}
    domain = config.domain or "login"
    auth = config.auth or "password"
    try:
        if auth == "session":
            token = config.secret("access_token")
            if not token or not config.instance_url:
                raise ConfigError(
                    f"connection {config.name}: auth 'session' needs access_token and instance_url"
                )
            return Salesforce(session_id=token, instance_url=config.instance_url, **common)
        if auth == "jwt":
            return Salesforce(
                username=config.username,
                consumer_key=config.consumer_key,
                privatekey=config.secret("private_key"),
                domain=domain,
                **common,
            )
        if auth == "client_credentials":
            return Salesforce(
                consumer_key=config.consumer_key,
                consumer_secret=config.secret("consumer_secret"),
                domain=domain,
                **common,
            )
        if config.consumer_key:  # OAuth username-password flow
            return Salesforce(
                username=config.username,
                password=config.secret("password"),
                consumer_key=config.consumer_key,
                consumer_secret=config.secret("consumer_secret"),
                domain=domain,
                **common,
            )
        return Salesforce(
            username=config.username,
            password=config.secret("password"),
            security_token=config.secret("security_token") or "",
            domain=domain,
            **common,
        )
    except SalesforceAuthenticationFailed as error:
        if _transient(error):
            raise RetriableError(
                f"connection {config.name}: Salesforce could not log in just now "
                f"({error.code}: {_first_sentence(error)[:200]}); trying again later"
            ) from None
        raise FatalConnectorError(
            f"connection {config.name}: Salesforce refused the login "
            f"({error.code}: {_first_sentence(error)}); "
            "check the username, password + security token, consumer key, or the user's API permission"
        ) from None
    except requests.RequestException as error:
        raise RetriableError(f"connection {config.name}: login failed to connect: {error}") from None


# Login answers that say "not now" rather than "not you": a 5xx or 429 without a SOAP fault reaches
# simple-salesforce's error as the bare HTTP status; these fault codes are Salesforce's own.
_TRANSIENT_LOGIN_CODES = frozenset(
    {"SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION", "UNKNOWN_EXCEPTION_CODE"}
    | {"server_error", "temporarily_unavailable"}
)


def _transient(error: SalesforceAuthenticationFailed) -> bool:
    """A refused login worth retrying: a server-side status or fault, never a credentials problem."""
    code = error.code
    if isinstance(code, int) or (isinstance(code, str) and code.isdigit()):
        return int(code) >= 500 or int(code) == 429
    return str(code) in _TRANSIENT_LOGIN_CODES


def _first_sentence(error: SalesforceAuthenticationFailed) -> str:
    # simple-salesforce appends "Response content: {content}" (sometimes unformatted) to the message
    return str(error.message).split(" Response content", 1)[0].strip()


class SalesforceClient:
    """One org, reached through simple-salesforce under the module rules."""

    def __init__(
        self,
        config: SalesforceConfig,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        client_factory: Callable[[SalesforceConfig, requests.Session], Salesforce] = login,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.session = session or http_session(config)
        self.session.hooks["response"].append(self._count)
        self._factory = client_factory
        self._sf: Salesforce | None = None
        self.calls = 0
        self.usage: tuple[int, int] | None = None  # (used, total) from Sforce-Limit-Info
        self._last = threading.local()  # the last error answer's Retry-After, per thread

    def _count(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.calls += 1
        record_api_call(self.config.name, None if response.status_code < 300 else str(response.status_code))
        failed = response.status_code >= 400
        self._last.retry_after = response.headers.get("Retry-After") if failed else None

    def _retry_after(self) -> float | None:
        """The ``Retry-After`` of the answer that just failed in this thread, in seconds."""
        return parse_retry_after(getattr(self._last, "retry_after", None))

    def _login(self) -> Salesforce:
        try:
            return self._factory(self.config, self.session)
        except RetriableError as error:
            if error.retry_after is None:
                error.retry_after = self._retry_after()
            raise

    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            # Inside ``call`` this runs once (the outer policy retries); on its own it is retried.
            self._sf = self.retry.call(self._login, what=f"{self.config.name} login")
        return self._sf

    def refresh(self) -> None:
        """Log in again (a new session)."""
        if (self.config.auth or "password") == "session":
            raise FatalConnectorError(
                f"connection {self.config.name}: the session expired and a bare session id cannot be "
                "renewed; configure password, jwt or client_credentials auth"
            )
        self._sf = None
        _ = self.sf

    # -- the guarded call ------------------------------------------------------------------
    def quota_left(self) -> bool:
        if self.usage is None:
            return True
        used, total = self.usage
        return total <= 0 or used / total < self.config.quota_stop_share

    def _guard(self) -> None:
        if not self.quota_left():
            used, total = self.usage or (0, 0)
            raise QuotaExhausted(
                f"connection {self.config.name}: {used}/{total} daily API requests used, at or past the "
                f"configured stop share {self.config.quota_stop_share:.0%}; resuming after the quota resets"
            )

    def _remember_usage(self, sf: Salesforce) -> None:
        usage = sf.api_usage.get("api-usage")
        if usage is not None:
            self.usage = (int(usage.used), int(usage.total))

    def call(self, what: str, fn: Callable[[Salesforce], T]) -> T:
        """Run ``fn(sf)`` under the guard, the retry policy, the error table and one session refresh."""
        refreshed = False

        def once() -> T:
            self._guard()
            sf = self.sf
            try:
                result = fn(sf)
            except SalesforceError as error:
                raise translate(error, what, retry_after=self._retry_after()) from None
            except requests.RequestException as error:
                raise RetriableError(f"{what}: connection failed: {error}") from None
            self._remember_usage(sf)
            return result

        def attempt() -> T:
            nonlocal refreshed
            try:
                return once()
            except SessionExpired:
                if refreshed:
                    raise
                log.info("%s: session expired during %s; logging in again", self.config.name, what)
                refreshed = True
                self.refresh()  # one login try: this runs inside the policy below
                return once()

        return self.retry.call(attempt, what=f"{self.config.name} {what}")

    # -- typed methods ---------------------------------------------------------------------
    def query_pages(self, soql: str, *, include_deleted: bool = False, batch_size: int = 2000) -> Any:
        """Yield each page's records of ``soql`` (``queryAll`` with ``include_deleted``)."""
        headers = {"Sforce-Query-Options": f"batchSize={batch_size}"}
        page = self.call("query", lambda sf: sf.query(soql, include_deleted=include_deleted, headers=headers))
        while True:
            yield list(page.get("records", []))
            next_url = page.get("nextRecordsUrl")
            if page.get("done", True) or not next_url:
                return
            page = self.call("query_more", _more(next_url, headers))

    def restful(self, what: str, path: str, *, method: str = "GET", **kwargs: Any) -> Any:
        return self.call(what, lambda sf: sf.restful(path, method=method, **kwargs))

    def limits(self) -> dict[str, Any]:
        return dict(self.call("limits", lambda sf: sf.limits()) or {})

    def describe(self, sobject: str) -> dict[str, Any]:
        """The sObject's describe. An unknown sObject is 404 ``NOT_FOUND`` on this URL (not the
        ``INVALID_TYPE`` a query gets), which the error table reads as a missing *record* (skip):
        here it means the configuration names an object the org lacks — fatal, said plainly."""
        try:
            return dict(self.restful("describe", f"sobjects/{sobject}/describe") or {})
        except SkipRecord as error:
            raise FatalConnectorError(
                f"describe: the org has no sObject {sobject!r} ({error}); check the connection's "
                "object and mapping (custom objects end in '__c')"
            ) from None


def _more(url: str, headers: dict[str, str]) -> Callable[[Salesforce], Any]:
    return lambda sf: sf.query_more(url, identifier_is_url=True, headers=headers)


__all__ = ["SALESFORCE_ERRORS", "SalesforceClient", "error_code", "http_session", "login"]
