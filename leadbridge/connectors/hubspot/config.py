"""The settings of a HubSpot connection (``kind: hubspot``); unknown keys are errors."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from leadbridge.core.settings import CrmConnection


class HubSpotConfig(CrmConnection):
    """One portal: its API host, the private-app token, and the app's webhook secret and id."""

    kind: Literal["hubspot"] = "hubspot"
    base_url: str | None = None  # default https://api.hubapi.com
    access_token: SecretStr | None = None
    client_secret: SecretStr | None = None  # the app's: verifies X-HubSpot-Signature-v3
    app_id: str | int | None = None  # events caused by this app (leadbridge's own writes) are dropped
    webhook_url: str | None = None  # the URL HubSpot signs (behind a proxy)
    search_per_second: float = Field(default=5, gt=0)
    window_size: int | None = Field(default=None, ge=1)
    search_cap: int = Field(default=10_000, ge=1)
