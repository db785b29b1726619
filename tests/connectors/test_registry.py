"""The connector registry: kinds as data, capabilities instead of lists of kind names."""

from __future__ import annotations

import pytest

from leadbridge.connectors.registry import default_registry, shipped_kinds
from leadbridge.connectors.salesforce import KIND as SALESFORCE
from leadbridge.core.errors import ConfigError
from leadbridge.core.settings import ConnectionConfig, Settings
from leadbridge.ports import Capability, ConnectorRegistry


def test_given_the_shipped_kinds_then_capability_queries_replace_lists_of_names() -> None:
    registry = default_registry()
    assert list(registry) == sorted(registry.kinds)
    assert {"csv", "dynamics", "hubspot", "inbox", "salesforce", "webhook", "pipedrive"} <= set(registry)
    assert (
        {"salesforce", "hubspot", "dynamics"}
        <= registry.names(Capability.POLLED)
        == registry.names(Capability.SYNCED)
    )
    assert {"hubspot"} <= registry.names(Capability.WEBHOOKS)
    assert registry.names(Capability.CREATE_FIELDS) >= {"hubspot", "dynamics"}
    assert {"salesforce", "hubspot", "dynamics", "inbox", "webhook"} <= registry.names(Capability.PARTNER)
    assert "dynamics" in registry.names(Capability.HOME)
    assert registry.names(Capability.WRITE_ONLY) == {"webhook"}
    assert registry.kind("hubspot").default_object == "contacts"
    # Pipedrive is a partner-side kind: polled and pushed to, webhooks with Basic auth, no mapping file.
    assert registry.kind("pipedrive").capabilities == {
        Capability.SYNCED,
        Capability.POLLED,
        Capability.WEBHOOKS,
        Capability.PARTNER,
    }
    assert "pipedrive" not in registry.names(Capability.HOME) | registry.names(Capability.DESCRIBE)


def test_given_a_kind_registered_twice_then_it_is_an_error_not_an_overwrite() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        ConnectorRegistry.of(*shipped_kinds(), SALESFORCE)


def test_given_two_registries_then_they_are_independent_values() -> None:
    only_salesforce = ConnectorRegistry.of(SALESFORCE)
    assert "hubspot" not in only_salesforce and "hubspot" in default_registry()
    with pytest.raises(ConfigError, match=r"unknown connector kind 'hubspot' \(known: salesforce\)"):
        only_salesforce.kind("hubspot")


def test_given_untyped_settings_for_a_kind_then_the_registry_refuses_to_build_a_connector() -> None:
    settings = Settings(connections={"home": ConnectionConfig(name="home", kind="salesforce")})
    with pytest.raises(ConfigError, match="not SalesforceConfig"):
        default_registry().connector(settings, "home")


def test_given_plain_data_then_connection_validates_like_a_file() -> None:
    registry = default_registry()
    config = registry.connection({"name": "p", "kind": "hubspot", "role": "partner", "access_token": "t"})
    assert config.secret("access_token") == "t" and registry.can(config, Capability.WEBHOOKS)
    with pytest.raises(ConfigError, match=r"connections.box.role"):
        registry.connection({"name": "box", "kind": "inbox", "role": "manufacturer"})


def test_given_pipedrive_settings_then_bad_ones_are_refused_with_the_reason() -> None:
    registry = default_registry()
    config = registry.connection(
        {"name": "p", "kind": "pipedrive", "api_token": "t" * 40, "base_url": "https://acme.pipedrive.com"}
    )
    assert config.role == "partner" and config.secret("api_token") == "t" * 40
    with pytest.raises(ConfigError, match="api_token, or client_id"):
        registry.connection({"name": "p", "kind": "pipedrive", "base_url": "https://acme.pipedrive.com"})
    with pytest.raises(ConfigError, match="base_url is required"):
        registry.connection({"name": "p", "kind": "pipedrive", "api_token": "t"})
    with pytest.raises(ConfigError, match="apitoken"):
        registry.connection({"name": "p", "kind": "pipedrive", "apitoken": "t", "base_url": "https://x"})
    with pytest.raises(ConfigError, match="cannot be the manufacturer"):
        registry.connection(
            {
                "name": "p",
                "kind": "pipedrive",
                "role": "manufacturer",
                "api_token": "t",
                "base_url": "https://x",
            }
        )
