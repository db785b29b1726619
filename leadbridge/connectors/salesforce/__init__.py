"""Salesforce on either side: pull leads and write back, or push offers and read partner status."""

from __future__ import annotations

from pathlib import Path

from leadbridge.connectors.salesforce.client import SalesforceClient
from leadbridge.connectors.salesforce.connector import SalesforceConnector
from leadbridge.connectors.salesforce.fields import LeadFields
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import ConnectionConfig
from leadbridge.mappings.loader import mapping_for


def connect(
    config: ConnectionConfig, *, retry: RetryPolicy | None = None, mapping_path: Path | None = None
) -> SalesforceConnector:
    """A connector for one configured org (logs in lazily, on the first call); its field mapping is
    ``mapping_path`` (the connection's resolved ``mapping``) or the shipped default for its role."""
    fields = LeadFields(mapping_for(config, mapping_path))
    return SalesforceConnector(config, SalesforceClient(config, retry=retry), fields)


__all__ = ["SalesforceClient", "SalesforceConnector", "connect"]
