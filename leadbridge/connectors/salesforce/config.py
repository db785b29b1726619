"""The settings of a Salesforce connection (``kind: salesforce``); unknown keys are errors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from leadbridge.core.settings import CrmConnection


class SalesforceConfig(CrmConnection):
    """One org: where it is, how to log in (password, jwt, client_credentials, session)."""

    kind: Literal["salesforce"] = "salesforce"
    instance_url: str | None = None
    login_url: str | None = None  # send logins here (a proxy, a private endpoint, the sandbox)
    domain: str | None = None  # My Domain prefix, e.g. ``acme.my`` (client credentials)
    auth: Literal["password", "jwt", "client_credentials", "session"] | None = None
    username: str | None = None
    consumer_key: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    private_key: SecretStr | None = None
    access_token: SecretStr | None = None  # auth: session
    # Outbound Messages (``POST /webhooks/salesforce/<connection>``, connectors/salesforce/outbound.py):
    # the org id the messages must carry (15 or 18 characters; unset: the endpoint answers 404), and
    # the sender addresses allowed (CIDR networks, e.g. Salesforce's published ranges; empty: any).
    outbound_org_id: str | None = None
    outbound_allow: list[str] = Field(default_factory=list)
