"""A signed outbound webhook connection's settings (``kind: webhook``)."""

from __future__ import annotations

import base64
import binascii
from typing import Literal

from pydantic import SecretStr, field_validator

from leadbridge.core.settings import ConnectionConfig

SECRET_PREFIX = "whsec_"


class WebhookConfig(ConnectionConfig):
    """Where a partner without a connector receives its events, and the secret they are signed with.

    ``signing_secret`` is a Standard Webhooks secret: ``whsec_`` followed by base64 of 24 to 64 random
    bytes (``signing_secret_env: VAR`` or the secrets file; never in the YAML itself in production).
    """

    kind: Literal["webhook"] = "webhook"
    role: Literal["partner"] = "partner"
    url: str
    signing_secret: SecretStr
    timeout_seconds: float = 10.0
    ca_file: str | None = None  # trust only this CA (a private endpoint); default: the system's

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("url must be an http:// or https:// address")
        return value

    @field_validator("signing_secret")
    @classmethod
    def _whsec(cls, value: SecretStr) -> SecretStr:
        # The spec's secret format: a prefix and base64 bytes; the error never echoes the secret.
        raw = value.get_secret_value()
        if not raw.startswith(SECRET_PREFIX):
            raise ValueError(f"signing_secret must start with {SECRET_PREFIX!r} (Standard Webhooks format)")
        try:
            key = base64.b64decode(raw[len(SECRET_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"signing_secret after {SECRET_PREFIX!r} must be base64") from None
        if not 24 <= len(key) <= 64:
            raise ValueError("signing_secret must decode to 24..64 bytes (Standard Webhooks)")
        return value
