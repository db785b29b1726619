"""The connector registry's data: each kind's settings model, factory and capabilities.

Built as data (``connectors.registry.default_registry()``), never filled at import; the runtime
holds one and call sites ask it (``registry.can(config, Capability.POLLED)``) instead of listing
kinds. A kind registered twice is an error, not an overwrite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from leadbridge.core.errors import ConfigError
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import ConnectionConfig, Settings, load_settings, parse_connections
from leadbridge.ports.connector import Connector


class Capability(StrEnum):
    """What a connector kind can do; call sites ask the registry instead of listing kinds."""

    SYNCED = "synced"  # the sync engine reads and writes it (read_changes / write_batch, outbox target)
    POLLED = "polled"  # polled every ``poll_seconds`` (manufacturer: leads; partner: status)
    WEBHOOKS = "webhooks"  # receives deliveries at ``/webhooks/<connection>`` (``parse_webhook``)
    DESCRIBE = "describe"  # describes its objects' fields (``describe``, ``fetch_record``)
    CREATE_FIELDS = "create_fields"  # creates missing custom fields through its API (``create_field``)
    WRITE_ONLY = "write_only"  # only written to (signed outbound webhooks): nothing to read or check out
    HOME = "home"  # may be the manufacturer's side (role: manufacturer)
    ACCOUNTS = "accounts"  # writes figures onto partner account records (``AccountWriter``)
    PARTNER = "partner"  # may be a partner's side (role: partner)


ROLE_CAPABILITY = {"manufacturer": Capability.HOME, "partner": Capability.PARTNER}


@dataclass(frozen=True)
class ConnectorDeps:
    """What a factory gets besides the connection's settings (the runtime's parts)."""

    retry: RetryPolicy | None = None
    mapping_path: Path | None = None  # the connection's ``mapping``, resolved against the config


@dataclass(frozen=True)
class Kind:
    """One connector kind: its settings model, its factory and what it can do.

    ``factory`` is ``None`` for kinds without a connector object (the inbox is leadbridge's own
    pages; CSV is read by ``leads import``): they are configured and validated, but never synced.
    """

    name: str
    config: type[ConnectionConfig]  # extra="forbid", ``kind: Literal[name]``
    factory: Callable[[Any, ConnectorDeps], Connector] | None
    capabilities: frozenset[Capability]
    default_object: str | None = None  # the object a connection reads when it sets no ``object``
    summary: str = ""

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


@dataclass(frozen=True)
class ConnectorRegistry:
    """Kind name → ``Kind``; built as data (``connectors.registry.default_registry()``), never
    filled at import. The runtime holds one; tests build their own."""

    kinds: Mapping[str, Kind]

    @classmethod
    def of(cls, *kinds: Kind) -> ConnectorRegistry:
        """A registry of ``kinds``; a name registered twice is an error, not an overwrite."""
        found: dict[str, Kind] = {}
        for kind in kinds:
            if kind.name in found:
                raise ValueError(f"connector kind {kind.name!r} is registered twice")
            found[kind.name] = kind
        return cls(found)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self.kinds))

    def __contains__(self, name: object) -> bool:
        return name in self.kinds

    def kind(self, name: str) -> Kind:
        """The kind ``name``; an unknown one is a ``ConfigError`` naming the known kinds."""
        try:
            return self.kinds[name]
        except KeyError:
            raise ConfigError(f"unknown connector kind {name!r} (known: {', '.join(self)})") from None

    def names(self, capability: Capability) -> frozenset[str]:
        """The kinds that have ``capability``."""
        return frozenset(name for name, kind in self.kinds.items() if capability in kind.capabilities)

    def can(self, config: ConnectionConfig, capability: Capability) -> bool:
        """Whether the connection's kind has ``capability``."""
        return config.kind in self.kinds and capability in self.kinds[config.kind].capabilities

    def config_models(self) -> dict[str, type[ConnectionConfig]]:
        """Each kind's settings model (what ``load_settings`` validates connections with)."""
        return {name: kind.config for name, kind in self.kinds.items()}

    def load_settings(self, config: Path | None = None) -> Settings:
        """``core.settings.load_settings`` with this registry's kinds; a connection whose role
        its kind does not support (an inbox as the manufacturer) is a ``ConfigError``."""
        settings = load_settings(config, kinds=self.config_models())
        for name, connection in settings.connections.items():
            self._check_role(name, connection, str(settings.config_path or "settings"))
        return settings

    def connection(self, values: Mapping[str, Any]) -> ConnectionConfig:
        """One connection's settings from plain data (tests, the demo), validated like a file's."""
        name = str(values.get("name") or values.get("kind") or "connection")
        parsed = parse_connections({name: dict(values)}, self.config_models())[name]
        self._check_role(name, parsed, "settings")
        return parsed

    def _check_role(self, name: str, connection: ConnectionConfig, source: str) -> None:
        if not self.can(connection, ROLE_CAPABILITY[connection.role]):
            raise ConfigError(
                f"{source}: connections.{name}.role: a {connection.kind} connection cannot be the "
                f"{connection.role}"
            )

    def connector(
        self, settings: Settings, name: str, *, retry: RetryPolicy | None = None
    ) -> Connector | None:
        """The connector for connection ``name``; ``None`` for kinds without a factory."""
        config = settings.connection(name)
        kind = self.kind(config.kind)
        if kind.factory is None:
            return None
        if not isinstance(config, kind.config):
            raise ConfigError(
                f"connection {name}: its settings are a {type(config).__name__}, not {kind.config.__name__} "
                "(load them through the registry)"
            )
        mapping = getattr(config, "mapping", None)
        return kind.factory(config, ConnectorDeps(retry=retry, mapping_path=settings.resolve(mapping)))
