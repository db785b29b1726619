"""The settings of a Dynamics 365 / Dataverse connection (``kind: dynamics``); unknown keys are errors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from leadbridge.core.settings import CrmConnection


class DynamicsConfig(CrmConnection):
    """One Dataverse environment reached with an app registration's client credentials (MSAL).

    ``org_url`` is the environment (``https://contoso.crm4.dynamics.com``); the token is asked of
    ``{authority_url}/{tenant_id}`` for the scope ``{org_url}/.default``. ``key_column`` is the
    lead's alternate key holding leadbridge's lead id (upserts and partner reads use it).
    """

    kind: Literal["dynamics"] = "dynamics"
    org_url: str
    tenant_id: str
    client_id: str
    client_secret: SecretStr | None = None
    authority_url: str = "https://login.microsoftonline.com"
    api_version: str = "9.2"
    key_column: str = "new_leadbridgeid"
    batch_size: int = Field(default=200, ge=1, le=1000)  # requests per $batch (Dataverse allows 1,000)
    max_throttle_wait: float = Field(default=300.0, gt=0)  # a 429 asking longer stops the run (quota)
    track_deletions: bool = True  # read deletions through change tracking (ChangeTrackingEnabled)
    close_opportunities: bool = True  # won/lost write-back also closes the lead's open opportunities
    timeout: float = Field(default=60.0, gt=0)
