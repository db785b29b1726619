"""HubSpot on either side: pull contacts and write back, or push offers and read partner status."""

from __future__ import annotations

from pathlib import Path

from leadbridge.connectors.hubspot.client import HubSpotClient, TokenProvider
from leadbridge.connectors.hubspot.connector import HubSpotConnector
from leadbridge.connectors.hubspot.fields import RecordFields
from leadbridge.connectors.hubspot.pacing import Pacer
from leadbridge.connectors.hubspot.webhooks import WebhookRejected
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import ConnectionConfig
from leadbridge.mappings.loader import default_mapping_path, load_mapping, mapping_for


def connect(
    config: ConnectionConfig,
    *,
    retry: RetryPolicy | None = None,
    mapping_path: Path | None = None,
    pacer: Pacer | None = None,
    token_provider: TokenProvider | None = None,
) -> HubSpotConnector:
    """A connector for one configured portal (no call is made until it is used); its field mapping is
    ``mapping_path`` (the connection's resolved ``mapping``) or the shipped default for its object and
    role. A manufacturer contact mapping is paired with the default company mapping."""
    mapping = mapping_for(config, mapping_path)
    company = None
    if mapping.object == "contacts" and config.role == "manufacturer":
        company = load_mapping(default_mapping_path("hubspot", "companies", "manufacturer"))
    client = HubSpotClient(config, retry=retry, pacer=pacer, token_provider=token_provider)
    return HubSpotConnector(config, client, RecordFields(mapping, company))


__all__ = ["HubSpotClient", "HubSpotConnector", "Pacer", "WebhookRejected", "connect"]
