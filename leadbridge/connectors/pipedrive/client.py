"""A thin Pipedrive client on ``requests``: one Session, the envelope unwrapped, every call through
the one retry policy.

Rules:
- no maintained Python client covers what we need (crm-api-notes-dynamics-pipedrive §1, §6: the
  community ones are v1-only on deprecated endpoints, v2-only without webhooks, or need Python
  3.14), so this is ~150 lines over ``requests``: v2 for deals, persons, organizations and their
  fields; v1 only where v2 has nothing (``users/me``, ``dealFields`` writes, ``webhooks``);
- the Session has ``trust_env = False`` and ``verify`` = the connection's ``ca_file`` (or the
  system store): environment CA variables must not override the configured trust;
- the API token goes in the ``x-api-token`` header (never in the URL, where logs keep it); OAuth
  access tokens are fetched with the refresh token (HTTP Basic client credentials, a form body) and
  refreshed once on a 401 within the same try;
- every failure goes through ``errors.translate``; the wait before a retry is the policy's
  (``core/retry.py``), fed with ``Retry-After`` / ``x-ratelimit-reset``. When the last answer said
  ``x-ratelimit-remaining: 0`` the next call does not go out before the window resets: it is handed
  to the policy as a retriable wait instead of provoking a 429;
- a non-JSON answer (a gateway's HTML page) is a failure, never data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from leadbridge.connectors.pipedrive.config import PipedriveConfig
from leadbridge.connectors.pipedrive.errors import PIPEDRIVE_ERRORS, TLS_FAILED, header, translate
from leadbridge.core.errors import FatalConnectorError, RetriableError
from leadbridge.core.retry import RetryPolicy


@dataclass(frozen=True)
class Answer:
    data: Any
    additional: Mapping[str, Any]
    status: int


class PipedriveClient:
    """One company's API (module rules)."""

    def __init__(
        self,
        config: PipedriveConfig,
        *,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self.retry = retry or RetryPolicy()
        self.session = session or requests.Session()
        self.session.trust_env = False
        self.session.verify = config.ca_file or True
        self.base_url = (config.base_url or "").rstrip("/")
        self.access_token: str | None = None
        self.calls = 0
        self.rate: dict[str, str] = {}  # the last answer's x-ratelimit-* headers
        self._window_until = 0.0  # monotonic time before which the burst window has no room

    # -- auth --------------------------------------------------------------------------------
    @property
    def oauth(self) -> bool:
        return self.config.api_token is None

    def _refresh(self) -> None:
        """Exchange the refresh token for an access token (and the API host, ``api_domain``)."""
        config = self.config
        self.calls += 1
        try:
            answer = self.session.post(
                config.oauth_token_url,
                data={"grant_type": "refresh_token", "refresh_token": config.secret("refresh_token")},
                auth=(str(config.client_id), str(config.secret("client_secret"))),
                timeout=config.timeout_seconds,
            )
        except requests.exceptions.SSLError as error:
            raise PIPEDRIVE_ERRORS.error_for(0, TLS_FAILED, str(error)) from None
        except requests.RequestException as error:
            raise RetriableError(f"Pipedrive OAuth token request failed: {error}") from None
        body = _json(answer)
        if answer.status_code >= 400 or not isinstance(body, dict) or "access_token" not in body:
            if answer.status_code >= 500 or answer.status_code == 429:
                raise translate(answer.status_code, body, answer.headers, "OAuth token")
            raise FatalConnectorError(
                f"Pipedrive refused the OAuth refresh ({answer.status_code}): check client_id, client_secret "
                f"and refresh_token of connection {config.name} "
                f"({body.get('message') if isinstance(body, dict) else 'no message'})"
            )
        self.access_token = str(body["access_token"])
        if not config.base_url and body.get("api_domain"):
            self.base_url = str(body["api_domain"]).rstrip("/")

    def _auth(self) -> dict[str, str]:
        if not self.oauth:
            return {"x-api-token": str(self.config.secret("api_token"))}
        if self.access_token is None:
            self._refresh()
        return {"Authorization": f"Bearer {self.access_token}"}

    # -- calls -------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        what: str | None = None,
    ) -> Answer:
        """``method`` ``/api/<path>`` (``v1/…`` or ``v2/…``) under the retry policy; the unwrapped answer."""
        label = what or f"{method} {path}"
        return self.retry.call(
            lambda: self._once(method, path, params, body, label), what=f"Pipedrive {label}"
        )

    def _once(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None,
        body: Mapping[str, Any] | None,
        what: str,
    ) -> Answer:
        wait = self._window_until - time.monotonic()
        if wait > 0:  # the last answer said the window is full: let the policy wait for it
            self._window_until = 0.0
            raise RetriableError(f"Pipedrive {what}: x-ratelimit-remaining is 0", retry_after=wait)
        answer = self._send(method, path, params, body)
        if answer.status_code == 401 and self.oauth:
            self.access_token = None  # expired or revoked: one refresh, then the same call again
            answer = self._send(method, path, params, body)
        self._remember(answer.headers)
        data = _json(answer)
        if answer.status_code >= 400 or not isinstance(data, dict) or data.get("success") is False:
            status = answer.status_code if answer.status_code >= 400 else 502
            raise translate(status, data, answer.headers, what)
        return Answer(data.get("data"), data.get("additional_data") or {}, answer.status_code)

    def _send(
        self, method: str, path: str, params: Mapping[str, Any] | None, body: Mapping[str, Any] | None
    ) -> requests.Response:
        headers = {"Accept": "application/json", **self._auth()}
        self.calls += 1
        try:
            return self.session.request(
                method, f"{self.base_url}/api/{path}", params=params, json=body, headers=headers,
                timeout=self.config.timeout_seconds, allow_redirects=False,
            )  # fmt: skip
        except requests.exceptions.SSLError as error:
            raise PIPEDRIVE_ERRORS.error_for(0, TLS_FAILED, str(error)) from None
        except requests.RequestException as error:
            raise RetriableError(f"Pipedrive {method} {path}: {type(error).__name__}: {error}") from None

    def _remember(self, headers: Mapping[str, str]) -> None:
        self.rate = {k.lower(): v for k, v in headers.items() if k.lower().startswith("x-ratelimit-")}
        remaining, reset = header(headers, "x-ratelimit-remaining"), header(headers, "x-ratelimit-reset")
        if remaining == "0" and reset and reset.isdigit():
            self._window_until = time.monotonic() + float(reset)

    # -- pages -------------------------------------------------------------------------------
    def pages(self, path: str, params: Mapping[str, Any], *, what: str) -> Any:
        """Each page of a v2 list, following ``additional_data.next_cursor`` to the end."""
        cursor: str | None = None
        while True:
            answer = self.call(
                "GET", path, params={**params, **({"cursor": cursor} if cursor else {})}, what=what
            )
            yield list(answer.data or [])
            cursor = answer.additional.get("next_cursor")
            if not cursor:
                return


def _json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text[:300]
