"""Real client objects pointed at a sandbox org: what connectors' tests and the demo reuse.

``simple-salesforce`` always builds ``https://<host>`` URLs and logs in at
``https://login.salesforce.com`` (or ``{domain}.salesforce.com``), so the session routes every
HTTPS request to the org's own port, and trusts only the sandbox CA (``trust_env = False``:
otherwise ``REQUESTS_CA_BUNDLE`` would replace ``verify``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce import Salesforce

if TYPE_CHECKING:
    from leadbridge.sandbox.salesforce.org import SalesforceOrg

Flow = Literal["session", "soap", "password", "jwt", "client_credentials"]
DEFAULT_TIMEOUT = 30.0


class RouteTo(HTTPAdapter):
    """Send each request to ``scheme://netloc``, keeping path and query; default a timeout."""

    def __init__(
        self, netloc: str, scheme: str = "https", timeout: float = DEFAULT_TIMEOUT, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.netloc, self.scheme, self.timeout = netloc, scheme, timeout

    def send(self, request: requests.PreparedRequest, **kw: Any) -> requests.Response:  # type: ignore[override]
        request.url = urlsplit(str(request.url))._replace(scheme=self.scheme, netloc=self.netloc).geturl()
        if kw.get("timeout") is None:  # requests passes timeout=None explicitly
            kw["timeout"] = self.timeout
        return super().send(request, **kw)


def sandbox_session(instance_url: str, ca_file: str | Path, *, pool_size: int = 10) -> requests.Session:
    """A requests Session that trusts only the sandbox CA and routes every https URL to ``instance_url``."""
    target = urlsplit(instance_url)
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    session.mount(
        "https://", RouteTo(target.netloc, target.scheme, pool_connections=pool_size, pool_maxsize=pool_size)
    )
    return session


def salesforce_client(
    org: SalesforceOrg, ca_file: str | Path, *, flow: Flow = "session", version: str = "59.0"
) -> Salesforce:
    """A real ``simple_salesforce.Salesforce`` logged in to ``org`` with the chosen flow.

    ``session`` uses the org's pre-issued session id (never refreshes, like a real session-id
    client); ``soap`` and ``password`` log in and re-login on ``INVALID_SESSION_ID``; ``jwt`` signs
    with the org's private key; ``client_credentials`` uses a My Domain name as the client requires.
    """
    session = sandbox_session(org.instance_url, ca_file)
    common: dict[str, Any] = {"session": session, "version": version}
    if flow == "session":
        return Salesforce(session_id=org.session_id, instance_url=org.instance_url, **common)
    if flow == "soap":
        return Salesforce(
            username=org.username, password=org.password, security_token=org.security_token, **common
        )
    if flow == "password":
        return Salesforce(username=org.username, password=org.password, consumer_key=org.consumer_key,
                          consumer_secret=org.consumer_secret, **common)  # fmt: skip
    if flow == "jwt":
        return Salesforce(username=org.username, consumer_key=org.consumer_key,
                          privatekey=org.jwt_private_key_pem, **common)  # fmt: skip
    if flow == "client_credentials":
        return Salesforce(consumer_key=org.consumer_key, consumer_secret=org.consumer_secret,
                          domain="leadbridge-sandbox.my", **common)  # fmt: skip
    raise ValueError(f"unknown login flow {flow!r}")


def salesforce_client_from_info(
    entry: dict[str, Any], ca_file: str | Path, *, version: str = "59.0"
) -> Salesforce:
    """A client for one ``salesforce`` entry of ``sandbox serve --json`` (its pre-issued session)."""
    session = sandbox_session(entry["instance_url"], ca_file)
    return Salesforce(
        session_id=entry["session_id"], instance_url=entry["instance_url"], session=session, version=version
    )
