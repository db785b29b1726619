"""HubSpot on either side: pull contacts and write back, or push offers and read partner status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadbridge.connectors.hubspot.client import HubSpotClient, TokenProvider
from leadbridge.connectors.hubspot.config import HubSpotConfig
from leadbridge.connectors.hubspot.connector import HubSpotConnector
from leadbridge.connectors.hubspot.fields import RecordFields
from leadbridge.connectors.hubspot.pacing import Pacer
from leadbridge.connectors.hubspot.webhooks import WebhookRejected
from leadbridge.core.retry import RetryPolicy
from leadbridge.mappings.loader import default_mapping_path, load_mapping, mapping_for
from leadbridge.ports import Capability, ConnectorDeps, Kind, SyncedConnector

DEFAULT_OBJECT = "contacts"


def connect(
    config: HubSpotConfig,
    *,
    retry: RetryPolicy | None = None,
    mapping_path: Path | None = None,
    pacer: Pacer | None = None,
    token_provider: TokenProvider | None = None,
) -> HubSpotConnector:
    """A connector for one configured portal (no call is made until it is used); its field mapping is
    ``mapping_path`` (the connection's resolved ``mapping``) or the shipped default for its object and
    role. A manufacturer contact mapping is paired with the default company mapping."""
    mapping = mapping_for(config, mapping_path, default_object=DEFAULT_OBJECT)
    company = None
    if mapping.object == "contacts" and config.role == "manufacturer":
        company = load_mapping(default_mapping_path("hubspot", "companies", "manufacturer"))
    client = HubSpotClient(config, retry=retry, pacer=pacer, token_provider=token_provider)
    return HubSpotConnector(config, client, RecordFields(mapping, company))


def _factory(config: Any, deps: ConnectorDeps) -> SyncedConnector:  # mypy checks the verbs
    return connect(config, retry=deps.retry, mapping_path=deps.mapping_path)


KIND = Kind(
    name="hubspot",
    config=HubSpotConfig,
    factory=_factory,
    capabilities=frozenset(
        {
            Capability.SYNCED,
            Capability.POLLED,
            Capability.WEBHOOKS,
            Capability.DESCRIBE,
            Capability.CREATE_FIELDS,
            Capability.HOME,
            Capability.ACCOUNTS,
            Capability.PARTNER,
        }
    ),
    default_object=DEFAULT_OBJECT,
    summary="a HubSpot portal through hubspot-api-client (polled, and webhooks with an app secret)",
)

__all__ = [
    "KIND",
    "HubSpotClient",
    "HubSpotConfig",
    "HubSpotConnector",
    "Pacer",
    "WebhookRejected",
    "connect",
]
