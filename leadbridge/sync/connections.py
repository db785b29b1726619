"""Connectors for the configured connections that the sync engine drives."""

from __future__ import annotations

from typing import Any

from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import Settings

SYNCED_KINDS = ("salesforce", "hubspot")


def connector_for(settings: Settings, name: str, *, retry: RetryPolicy | None = None) -> Any:
    """The connector for one connection; ``None`` for kinds the sync engine does not drive."""
    config = settings.connection(name)
    if config.kind == "salesforce":
        from leadbridge.connectors.salesforce import connect

        return connect(config, retry=retry, mapping_path=settings.resolve(config.mapping))
    if config.kind == "hubspot":
        from leadbridge.connectors.hubspot import connect as connect_hubspot

        return connect_hubspot(config, retry=retry, mapping_path=settings.resolve(config.mapping))
    return None


def build_connectors(
    settings: Settings, *, only: str | None = None, retry: RetryPolicy | None = None
) -> dict[str, Any]:
    """Every synced connection's connector (or just ``only``, which must exist)."""
    names = [only] if only else list(settings.connections)
    found: dict[str, Any] = {}
    for name in names:
        connector = connector_for(settings, name, retry=retry)
        if connector is not None:
            found[name] = connector
    return found
