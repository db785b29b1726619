"""The settings of a Pipedrive connection (``kind: pipedrive``); unknown keys are errors.

Authentication is either the user's API token (``api_token``) or an OAuth app's grant
(``client_id`` + ``client_secret`` + ``refresh_token``): access tokens are fetched and refreshed
from ``oauth_token_url`` and the API host is the token's ``api_domain`` unless ``base_url`` is set.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator

from leadbridge.core.settings import CrmConnection

LABELS = {"offered": "Offered", "accepted": "Accepted", "declined": "Declined", "withdrawn": "Withdrawn"}


class PipedriveConfig(CrmConnection):
    """One Pipedrive company (a partner's), as a partner-side connection."""

    kind: Literal["pipedrive"] = "pipedrive"
    role: Literal["manufacturer", "partner"] = "partner"
    base_url: str | None = None  # https://{company}.pipedrive.com; OAuth: the token's api_domain
    api_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    oauth_token_url: str = "https://oauth.pipedrive.com/oauth/token"
    webhook_user: str | None = None  # HTTP Basic credentials given to Pipedrive's webhook subscription
    webhook_password: SecretStr | None = None
    pipeline_id: int | None = Field(default=None, ge=1)  # where offers land (default: the company's default)
    stage_id: int | None = Field(default=None, ge=1)
    labels: dict[Literal["offered", "accepted", "declined", "withdrawn"], str] = Field(
        default_factory=lambda: dict(LABELS)  # type: ignore[arg-type]
    )
    timeout_seconds: float = Field(default=30, gt=0)

    @model_validator(mode="after")
    def _one_way_in(self) -> PipedriveConfig:
        oauth = (self.client_id, self.client_secret, self.refresh_token)
        if self.api_token is None and not all(oauth):
            raise ValueError("set api_token, or client_id + client_secret + refresh_token (OAuth)")
        if self.api_token is not None and not self.base_url:
            raise ValueError("base_url is required with api_token (https://<company>.pipedrive.com)")
        if self.base_url and not self.base_url.startswith("https://"):
            raise ValueError("base_url must be https://")
        return self

    def label(self, name: Literal["offered", "accepted", "declined", "withdrawn"]) -> str:
        return self.labels.get(name, LABELS[name])
