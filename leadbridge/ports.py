"""The connector interface every external system implements, and the vendor error table.

A connector has five verbs: ``check`` (an actionable message, never a traceback), ``discover``
(what objects and fields exist), ``read_changes`` (records changed since a keyset checkpoint),
``write_batch`` (idempotent writes, one result per item) and ``parse_webhook``. Business code talks
to these verbs only; the vendor client stays inside the connector.

Rules:
- a checkpoint is a keyset ``(stamp, id)``; reads use ``>=`` on the stamp and drop records at or
  before the checkpoint's keyset, so rows sharing a stamp are neither lost nor read twice;
- every vendor failure goes through an ``ErrorTable`` that maps ``(status, code)`` to one of
  retry / refresh session / stop for quota / skip the record / fatal, with a message for the admin;
- a write never raises for one bad record: its ``WriteResult`` carries the error and the action.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from leadbridge.core.errors import (
    ConfigError,
    FatalConnectorError,
    LeadbridgeError,
    QuotaExhausted,
    RetriableError,
    SessionExpired,
    SkipRecord,
)
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import ConnectionConfig, Settings, load_settings, parse_connections


class WebhookRejected(LeadbridgeError):
    """A webhook delivery failed verification: answer 401 and take nothing in."""


class Action(StrEnum):
    """What the caller does next with a failure."""

    RETRY = "retry"
    REFRESH_SESSION = "refresh_session"
    STOP_QUOTA = "stop_quota"
    SKIP = "skip"
    FATAL = "fatal"


@dataclass(frozen=True)
class ErrorRule:
    """One row of a vendor error table: ``status``/``code`` ``None`` match anything."""

    status: int | None
    code: str | None
    action: Action
    message: str


@dataclass(frozen=True)
class ErrorTable:
    """``(status, code) → action``: the first rule matching both wins; unknown 5xx retry, 4xx skip."""

    vendor: str
    rules: tuple[ErrorRule, ...]

    def classify(self, status: int | None, code: str | None) -> ErrorRule:
        for rule in self.rules:
            if (rule.status is None or rule.status == status) and (rule.code is None or rule.code == code):
                return rule
        if status is None or status >= 500 or status == 429:
            return ErrorRule(status, code, Action.RETRY, f"{self.vendor} had a transient failure")
        return ErrorRule(status, code, Action.SKIP, f"{self.vendor} refused the record")

    def error_for(
        self, status: int | None, code: str | None, detail: str, retry_after: float | None = None
    ) -> LeadbridgeError:
        """The leadbridge exception that tells the caller what to do with this failure."""
        rule = self.classify(status, code)
        text = f"{self.vendor} {status or ''} {code or ''}: {rule.message} ({detail})".replace("  ", " ")
        match rule.action:
            case Action.RETRY:
                return RetriableError(text, retry_after=retry_after)
            case Action.REFRESH_SESSION:
                return SessionExpired(text)
            case Action.STOP_QUOTA:
                return QuotaExhausted(text)
            case Action.SKIP:
                return SkipRecord(text)
        return FatalConnectorError(text)


STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # trimmed to milliseconds by ``format_stamp``


def format_stamp(moment: datetime) -> str:
    """The one stamp format checkpoints use (UTC, milliseconds), so string order is time order."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)[:-4] + "Z"


def parse_stamp(stamp: str) -> datetime:
    text = stamp.replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":  # +0000 → +00:00
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text).astimezone(UTC)


@dataclass(frozen=True, order=True)
class Checkpoint:
    """How far a stream has been read: the last ``(stamp, id)`` keyset taken in.

    ``recent`` lists the keysets already taken in within the lookback window before ``stamp``: a
    re-read of that window (for rows committed late with an older stamp) skips exactly those.
    """

    stamp: str
    id: str
    recent: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def is_before(self, stamp: str, record_id: str) -> bool:
        """True when ``(stamp, record_id)`` comes after this checkpoint (i.e. not yet read)."""
        return (stamp, record_id) > (self.stamp, self.id)

    def read_from(self, lookback: timedelta) -> str:
        """The stamp a ``>=`` read starts at: the checkpoint minus the lookback."""
        return format_stamp(parse_stamp(self.stamp) - lookback)


@dataclass(frozen=True)
class Change:
    """One record version read from a stream (``deleted`` for a deletion)."""

    stream: str
    external_id: str
    stamp: str
    record: Mapping[str, Any]
    deleted: bool = False

    @property
    def keyset(self) -> Checkpoint:
        return Checkpoint(self.stamp, self.external_id)


class WriteOp(StrEnum):
    """What a write does to its record: ``write`` creates/updates/upserts per the stream; ``delete``
    removes the record ``external_id`` (erasure, GDPR Art. 17) — deleting a record that is already
    gone succeeds, so a retried erasure settles."""

    WRITE = "write"
    DELETE = "delete"


@dataclass(frozen=True)
class WriteItem:
    """One record to write: ``key`` identifies it to the caller (e.g. the outbox row's coalesce key)."""

    key: str
    fields: Mapping[str, Any]
    external_id: str | None = None  # the remote record id, when updating (or deleting) by id
    op: WriteOp = WriteOp.WRITE


@dataclass(frozen=True)
class WriteResult:
    key: str
    ok: bool
    remote_id: str | None = None
    created: bool = False
    error: str | None = None
    action: Action | None = None


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StreamInfo:
    """An object a connector can read/write, declared as small data."""

    name: str
    primary_key: str
    cursor_field: str
    fields: tuple[str, ...] = ()


@runtime_checkable
class Connector(Protocol):
    """The verbs every connector offers (module docstring)."""

    name: str

    def check(self) -> CheckResult: ...

    def discover(self) -> list[StreamInfo]: ...

    def read_changes(self, stream: str, since: Checkpoint | None) -> Iterator[list[Change]]:
        """Pages of changes in keyset order strictly after ``since``."""
        ...

    def write_batch(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """One result per item, in order; ``WriteOp.DELETE`` items remove ``external_id``."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes, uri: str | None = None) -> list[Change]:
        """The changes a verified delivery announces (``WebhookRejected`` when it does not verify);
        ``uri`` is the URL the delivery was sent to, when the signature covers it."""
        ...


def after_checkpoint(
    changes: Sequence[Change], since: Checkpoint | None, lookback_from: str | None = None
) -> list[Change]:
    """The changes not yet taken in, each keyset once, in keyset order.

    Kept: keysets after the checkpoint, and keysets inside the lookback window (stamp ≥
    ``lookback_from``) that the checkpoint's ``recent`` does not list — rows committed late with an
    older stamp. This is the de-duplication that makes ``>=`` reads with a lookback safe.
    """
    recent = set(since.recent) if since else set()
    seen: set[tuple[str, str]] = set()
    kept: list[Change] = []
    for change in sorted(changes, key=lambda c: (c.stamp, c.external_id)):
        key = (change.stamp, change.external_id)
        if key in seen or key in recent:
            continue
        late = lookback_from is not None and change.stamp >= lookback_from
        if since is not None and not since.is_before(*key) and not late:
            continue
        seen.add(key)
        kept.append(change)
    return kept


def advance(since: Checkpoint | None, taken: Sequence[Change], lookback: timedelta) -> Checkpoint | None:
    """The checkpoint after taking in ``taken``: the highest keyset, and the window's keysets."""
    keys = [(c.stamp, c.external_id) for c in taken]
    if since is not None:
        keys += [(since.stamp, since.id), *since.recent]
    if not keys:
        return since
    top = max(keys)
    floor = format_stamp(parse_stamp(top[0]) - lookback)
    recent = tuple(sorted({key for key in keys if key[0] >= floor}))
    return Checkpoint(top[0], top[1], recent)


# -- the connector registry's data ---------------------------------------------------------------
class Capability(StrEnum):
    """What a connector kind can do; call sites ask the registry instead of listing kinds."""

    SYNCED = "synced"  # the sync engine reads and writes it (read_changes / write_batch, outbox target)
    POLLED = "polled"  # polled every ``poll_seconds`` (manufacturer: leads; partner: status)
    WEBHOOKS = "webhooks"  # receives deliveries at ``/webhooks/<connection>`` (``parse_webhook``)
    DESCRIBE = "describe"  # describes its objects' fields (``describe``, ``fetch_record``)
    CREATE_FIELDS = "create_fields"  # creates missing custom fields through its API (``create_field``)
    HOME = "home"  # may be the manufacturer's side (role: manufacturer)
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
            if not self.can(connection, ROLE_CAPABILITY[connection.role]):
                raise ConfigError(
                    f"{settings.config_path or 'settings'}: connections.{name}.role: a {connection.kind} "
                    f"connection cannot be the {connection.role}"
                )
        return settings

    def connection(self, values: Mapping[str, Any]) -> ConnectionConfig:
        """One connection's settings from plain data (tests, the demo), validated like a file's."""
        name = str(values.get("name") or values.get("kind") or "connection")
        return parse_connections({name: dict(values)}, self.config_models())[name]

    def connector(
        self, settings: Settings, name: str, *, retry: RetryPolicy | None = None
    ) -> Connector | None:
        """The connector for connection ``name``; ``None`` for kinds without a factory."""
        config = settings.connection(name)
        factory = self.kind(config.kind).factory
        if factory is None:
            return None
        mapping = getattr(config, "mapping", None)
        return factory(config, ConnectorDeps(retry=retry, mapping_path=settings.resolve(mapping)))
