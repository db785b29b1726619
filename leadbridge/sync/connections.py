"""Connectors for the configured connections that the sync engine drives (``Capability.SYNCED``)."""

from __future__ import annotations

from typing import Any

from leadbridge.connectors.registry import default_registry
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import Settings
from leadbridge.ports import Capability, ConnectorRegistry


def connector_for(
    settings: Settings,
    name: str,
    *,
    retry: RetryPolicy | None = None,
    registry: ConnectorRegistry | None = None,
) -> Any:
    """The connector for one connection; ``None`` for kinds the sync engine does not drive."""
    kinds = registry or default_registry()
    if not kinds.can(settings.connection(name), Capability.SYNCED):
        return None
    return kinds.connector(settings, name, retry=retry)


def build_connectors(
    settings: Settings,
    *,
    only: str | None = None,
    retry: RetryPolicy | None = None,
    registry: ConnectorRegistry | None = None,
) -> dict[str, Any]:
    """Every synced connection's connector (or just ``only``, which must exist)."""
    kinds = registry or default_registry()
    names = [only] if only else list(settings.connections)
    found: dict[str, Any] = {}
    for name in names:
        connector = connector_for(settings, name, retry=retry, registry=kinds)
        if connector is not None:
            found[name] = connector
    return found


def receives_events(settings: Settings, name: str, *, registry: ConnectorRegistry | None = None) -> bool:
    """Whether ``name`` is a partner connection that is sent lead events (a write-only kind:
    ``webhook``) rather than synced (``sync/partner_events.py``)."""
    kinds = registry or default_registry()
    config = settings.connection(name)
    return config.role == "partner" and kinds.can(config, Capability.WRITE_ONLY)


def event_connector_for(
    settings: Settings,
    name: str,
    *,
    retry: RetryPolicy | None = None,
    registry: ConnectorRegistry | None = None,
) -> Any:
    """The connector of an event connection (``receives_events``); ``None`` for any other."""
    kinds = registry or default_registry()
    if not receives_events(settings, name, registry=kinds):
        return None
    return kinds.connector(settings, name, retry=retry)
