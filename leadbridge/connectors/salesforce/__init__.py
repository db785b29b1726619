"""Salesforce on either side: pull leads and write back, or push offers and read partner status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadbridge.connectors.salesforce.client import SalesforceClient
from leadbridge.connectors.salesforce.config import SalesforceConfig
from leadbridge.connectors.salesforce.connector import SalesforceConnector
from leadbridge.connectors.salesforce.fields import LeadFields
from leadbridge.core.retry import RetryPolicy
from leadbridge.mappings.loader import mapping_for
from leadbridge.ports import Capability, ConnectorDeps, Kind, SyncedConnector

DEFAULT_OBJECT = "Lead"


def connect(
    config: SalesforceConfig, *, retry: RetryPolicy | None = None, mapping_path: Path | None = None
) -> SalesforceConnector:
    """A connector for one configured org (logs in lazily, on the first call); its field mapping is
    ``mapping_path`` (the connection's resolved ``mapping``) or the shipped default for its role."""
    fields = LeadFields(mapping_for(config, mapping_path, default_object=DEFAULT_OBJECT))
    return SalesforceConnector(config, SalesforceClient(config, retry=retry), fields)


def _factory(config: Any, deps: ConnectorDeps) -> SyncedConnector:  # mypy checks the verbs
    return connect(config, retry=deps.retry, mapping_path=deps.mapping_path)


KIND = Kind(
    name="salesforce",
    config=SalesforceConfig,
    factory=_factory,
    capabilities=frozenset(
        {
            Capability.SYNCED,
            Capability.POLLED,
            Capability.DESCRIBE,
            Capability.HOME,
            Capability.ACCOUNTS,
            Capability.PARTNER,
        }
    ),
    default_object=DEFAULT_OBJECT,
    summary="a Salesforce org through simple-salesforce (polled; fields are created in Setup)",
)

__all__ = ["KIND", "SalesforceClient", "SalesforceConfig", "SalesforceConnector", "connect"]
