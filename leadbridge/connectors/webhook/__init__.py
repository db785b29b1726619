"""Signed outbound webhooks as a connection kind (``kind: webhook``): partners without a connector
receive their offer and lead events as Standard Webhooks POSTs and answer through the REST API."""

from __future__ import annotations

from typing import Any

from leadbridge.ports import Capability, ConnectorDeps, Kind

from .config import WebhookConfig
from .connector import EVENT_TYPES, WebhookConnector


def _factory(config: Any, deps: ConnectorDeps) -> WebhookConnector:
    return WebhookConnector(config, deps.retry)


# Partner side only, write only: not polled, receives no webhooks, describes nothing.
KIND = Kind(
    name="webhook",
    config=WebhookConfig,
    factory=_factory,
    capabilities=frozenset({Capability.PARTNER, Capability.WRITE_ONLY}),
    summary="signed outbound webhooks (Standard Webhooks) to a partner's URL",
)

__all__ = ["EVENT_TYPES", "KIND", "WebhookConfig", "WebhookConnector"]
