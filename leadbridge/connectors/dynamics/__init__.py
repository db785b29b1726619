"""Dynamics 365 Sales (Dataverse Web API) on either side: pull leads and write back, or push offers
and read the partner's answer. MSAL client credentials + requests; see BEHAVIOR.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadbridge.connectors.dynamics.client import DataverseClient
from leadbridge.connectors.dynamics.config import DynamicsConfig
from leadbridge.connectors.dynamics.connector import DynamicsConnector
from leadbridge.connectors.dynamics.fields import LeadFields
from leadbridge.core.retry import RetryPolicy
from leadbridge.mappings.loader import mapping_for
from leadbridge.ports import Capability, ConnectorDeps, Kind, SyncedConnector

DEFAULT_OBJECT = "lead"


def connect(
    config: DynamicsConfig, *, retry: RetryPolicy | None = None, mapping_path: Path | None = None
) -> DynamicsConnector:
    """A connector for one environment (asks for a token lazily, on the first call)."""
    fields = LeadFields(
        mapping_for(config, mapping_path, default_object=DEFAULT_OBJECT), key_column=config.key_column
    )
    return DynamicsConnector(config, DataverseClient(config, retry=retry), fields)


def _factory(config: Any, deps: ConnectorDeps) -> SyncedConnector:
    return connect(config, retry=deps.retry, mapping_path=deps.mapping_path)


KIND = Kind(
    name="dynamics",
    config=DynamicsConfig,
    factory=_factory,
    capabilities=frozenset(
        {
            Capability.SYNCED,
            Capability.POLLED,
            Capability.DESCRIBE,
            Capability.CREATE_FIELDS,
            Capability.HOME,
            Capability.ACCOUNTS,
            Capability.PARTNER,
        }
    ),
    default_object=DEFAULT_OBJECT,
    summary="a Dynamics 365 / Dataverse environment through MSAL + the Web API (polled; creates columns)",
)

__all__ = ["KIND", "DataverseClient", "DynamicsConfig", "DynamicsConnector", "connect"]
