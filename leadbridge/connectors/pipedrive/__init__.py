"""Pipedrive on the partner side: offers land as deals (blind until the partner accepts), the
partner answers with labels and won/lost, webhooks (HTTP Basic) trigger a poll."""

from __future__ import annotations

from typing import Any

from leadbridge.connectors.pipedrive.client import PipedriveClient
from leadbridge.connectors.pipedrive.config import PipedriveConfig
from leadbridge.connectors.pipedrive.connector import PipedriveConnector
from leadbridge.core.errors import ConfigError
from leadbridge.core.retry import RetryPolicy
from leadbridge.ports import Capability, ConnectorDeps, Kind, SyncedConnector


def connect(config: PipedriveConfig, *, retry: RetryPolicy | None = None) -> PipedriveConnector:
    """A connector for one configured company (no call is made until it is used)."""
    if config.mapping:
        raise ConfigError(
            f"connection {config.name}: Pipedrive connections use a fixed field plan; remove 'mapping'"
        )
    return PipedriveConnector(config, PipedriveClient(config, retry=retry))


def _factory(config: Any, deps: ConnectorDeps) -> SyncedConnector:
    return connect(config, retry=deps.retry)


KIND = Kind(
    name="pipedrive",
    config=PipedriveConfig,
    factory=_factory,
    capabilities=frozenset({Capability.SYNCED, Capability.POLLED, Capability.WEBHOOKS, Capability.PARTNER}),
    default_object="deals",
    summary="a partner's Pipedrive company through API v2 on requests (deals, labels, Basic-auth webhooks)",
)

__all__ = ["KIND", "PipedriveClient", "PipedriveConfig", "PipedriveConnector", "connect"]
