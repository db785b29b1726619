"""Settings: environment variables (prefix ``LEADBRIDGE_``) over ``leadbridge.yaml`` over defaults.

Rules:
- Configuration is found at ``--config PATH``, else ``$LEADBRIDGE_CONFIG``, else ``./leadbridge.yaml``;
  without one, leadbridge runs on defaults (SQLite file ``leadbridge.db`` in the current directory).
- Relative paths in the YAML (database file, policy, mappings, secrets file) are relative to the YAML.
- Secrets are ``SecretStr``: they come from the environment (``password_env: NAME``), from the
  secrets file (``secrets_file``, a YAML map ``connection -> {field: value}``) or inline, and are
  never printed: ``safe_dump`` masks them.
- The app's ``secret_key`` (signs CSRF tokens, encrypts one-tap links) has no default: ``leadbridge
  init`` writes a fresh random one into the secrets file (top-level ``secret_key``; ``metrics_token``
  may live there too), the environment (``LEADBRIDGE_SECRET_KEY``) or the YAML may give it; a key
  shorter than ``MIN_SECRET_KEY_CHARS`` or the default shipped by earlier versions is refused
  (``secret_key_problem``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadbridge.core.errors import ConfigError

CONFIG_FILE_NAME = "leadbridge.yaml"
# libyaml's safe loader when PyYAML has it (20x faster on a file of hundreds of connections).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MIN_SECRET_KEY_CHARS = 32
APP_SECRETS = ("secret_key", "metrics_token")  # top-level entries of the secrets file
# Shipped as the default by earlier versions: public, so it must never sign anything again.
KNOWN_PUBLIC_KEYS = frozenset({"change-me-leadbridge-dev-secret"})


class ConnectionConfig(BaseModel):
    """What every connection's settings share; each connector kind subclasses it with its own keys.

    ``extra="forbid"``: a misspelt key is an error, never silently ignored. The concrete class for a
    connection is chosen by its ``kind`` (the registry's discriminated union, ``load_settings``).
    ``<secret>_env: VAR`` is accepted for every secret field of the concrete class: the
    before-validator sits here, so ``forbid`` never sees those keys.
    """

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    kind: str
    role: Literal["manufacturer", "partner"] = "manufacturer"
    partner_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_env(cls, data: Any) -> Any:
        """``<field>_env: VAR`` reads the secret field from environment variable VAR."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field in secret_fields(cls):
            env_name = data.pop(f"{field}_env", None)
            if env_name:
                if env_name not in os.environ:
                    raise ValueError(f"{field}_env names ${env_name}, which is not set")
                data[field] = os.environ[env_name]
        return data

    def secret(self, field: str) -> str | None:
        value = getattr(self, field, None)
        return value.get_secret_value() if isinstance(value, SecretStr) else value


class CrmConnection(ConnectionConfig):
    """Keys every CRM connection has (Salesforce, HubSpot): polling, mapping, quota, direct sales."""

    mapping: str | None = None
    object: str | None = None
    ca_file: str | None = None
    qualification_filter: str | None = None
    quota_stop_share: float = Field(default=0.9, gt=0, le=1)
    poll_seconds: int = Field(default=60, ge=1)
    lookback_seconds: float | None = Field(default=None, ge=0)
    page_size: int | None = Field(default=None, ge=1)
    direct_sales_owner_id: str | None = None
    create_tasks: bool = False

    def lookback(self, default: timedelta) -> timedelta:
        """How far before its checkpoint a read starts (``lookback_seconds``, else the connector's)."""
        return default if self.lookback_seconds is None else timedelta(seconds=self.lookback_seconds)


def secret_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` holding a ``SecretStr`` (the ones ``<field>_env`` may fill)."""
    return tuple(
        name
        for name, info in model.model_fields.items()
        if info.annotation is not None and SecretStr in (info.annotation, *get_args(info.annotation))
    )


class Settings(BaseSettings):
    """Everything leadbridge needs to run; see the module docstring for the precedence."""

    model_config = SettingsConfigDict(env_prefix="LEADBRIDGE_", extra="ignore")

    config_path: Path | None = None
    base_dir: Path = Field(default_factory=Path.cwd)
    database_url: str = "sqlite:///leadbridge.db"
    broker_url: str | None = None
    policy: str | None = "policy.yaml"
    secrets_file: str | None = None
    secret_key: SecretStr | None = None
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_sender: str = "leadbridge@localhost"
    log_level: str = "INFO"
    # Routing passes of one process may start from the previous pass's partner stats while the
    # aggregation is younger than this many seconds (core/stats_cache.py); 0 aggregates every pass.
    routing_stats_max_age_s: float = Field(default=0.0, ge=0, le=3600)
    # Request body ceilings in bytes (web/limits.py): JSON API, webhook receivers, pages' forms.
    max_body_api: int = Field(default=1_048_576, ge=1024)
    max_body_webhooks: int = Field(default=262_144, ge=1024)
    max_body_pages: int = Field(default=262_144, ge=1024)
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDR networks); nobody else's.
    trusted_proxies: list[str] = Field(default_factory=list)
    # ``/metrics`` answers a bearer token equal to this; without one, only direct loopback callers.
    metrics_token: SecretStr | None = None
    # Already validated per kind by ``load_settings`` (or built typed by a test); SerializeAsAny so
    # ``safe_dump`` shows each kind's own keys.
    connections: dict[str, SerializeAsAny[ConnectionConfig]] = Field(default_factory=dict)

    def resolve(self, path: str | None) -> Path | None:
        """A path from the configuration, made absolute against the configuration's directory."""
        if path is None:
            return None
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.base_dir / candidate

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with a relative SQLite file placed beside the configuration."""
        url = self.database_url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.base_dir / url[len(prefix) :])
        if url.startswith("postgresql://"):
            return "postgresql+psycopg://" + url[len("postgresql://") :]
        return url

    def connection(self, name: str) -> ConnectionConfig:
        try:
            return self.connections[name]
        except KeyError:
            known = ", ".join(sorted(self.connections)) or "none configured"
            raise ConfigError(f"unknown connection {name!r} (known: {known})") from None

    def secret_key_problem(self) -> str | None:
        """Why ``secret_key`` must not be used (missing, public or short), or None when it is fine."""
        key = self.secret_key.get_secret_value() if self.secret_key is not None else ""
        fix = (
            "run `leadbridge init` in a new directory to get one, or set LEADBRIDGE_SECRET_KEY "
            "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
        )
        if not key:
            return f"no secret_key is configured; {fix}"
        if key in KNOWN_PUBLIC_KEYS:
            return f"secret_key is the publicly known default of earlier versions; {fix}"
        if len(key) < MIN_SECRET_KEY_CHARS:
            return f"secret_key has {len(key)} characters, at least {MIN_SECRET_KEY_CHARS} are needed; {fix}"
        return None

    def signing_key(self) -> str:
        """The app's secret key for signing and encrypting; ``ConfigError`` when it is unusable."""
        problem = self.secret_key_problem()
        if problem is not None or self.secret_key is None:
            raise ConfigError(problem or "no secret_key")
        return self.secret_key.get_secret_value()

    def safe_dump(self) -> dict[str, Any]:
        """The settings as plain data with every secret masked, for ``--json`` and logs."""
        return self.model_dump(mode="json")  # SecretStr dumps as '**********'


def find_config(explicit: Path | None = None) -> Path | None:
    """``--config`` wins, then ``$LEADBRIDGE_CONFIG``, then ``./leadbridge.yaml`` if it exists."""
    if explicit is not None:
        if not explicit.exists():
            raise ConfigError(f"configuration file {explicit} does not exist")
        return explicit.resolve()
    from_env = os.environ.get("LEADBRIDGE_CONFIG")
    if from_env:
        return find_config(Path(from_env))
    local = Path.cwd() / CONFIG_FILE_NAME
    return local.resolve() if local.exists() else None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


ConnectionKinds = Mapping[str, type[ConnectionConfig]]
"""Each connector kind's settings model by kind name (the registry's ``config_models()``)."""


def connection_adapter(kinds: ConnectionKinds) -> TypeAdapter[Any]:
    """One connection's settings: a discriminated union of the kinds' models on ``kind``."""
    models = tuple(kinds.values())
    if not models:
        raise ConfigError("no connector kinds are registered")
    if len(models) == 1:
        return TypeAdapter(models[0])
    union: Any = Annotated[Union[models], Field(discriminator="kind")]  # noqa: UP007 - a runtime tuple
    return TypeAdapter(union)


def parse_connections(
    raw: Mapping[str, Any], kinds: ConnectionKinds, *, source: str = "settings", text: str | None = None
) -> dict[str, ConnectionConfig]:
    """Each connection validated by the model of its ``kind``; every problem is listed in one
    ``ConfigError`` as ``source:line: connections.NAME.KEY: message`` (line when ``text`` has it)."""
    adapter = connection_adapter(kinds)
    parsed: dict[str, ConnectionConfig] = {}
    problems: list[str] = []
    root = functools.cache(lambda: _compose(text))  # parsed again for line numbers only on a problem
    for name, values in raw.items():
        if not isinstance(values, dict):
            problems.append(_where(source, root, name, None) + "expected a mapping of keys")
            continue
        kind = values.get("kind")
        if kind not in kinds:
            problems.append(_where(source, root, name, "kind") + _unknown(kind, "kind", kinds))
            continue
        try:
            parsed[name] = adapter.validate_python({**values, "name": values.get("name") or name})
        except ValidationError as error:
            for err in error.errors():
                # A discriminated union puts the tag first in ``loc``: strip it (pydantic #10433).
                loc = [str(p) for p in err["loc"]]
                loc = loc[1:] if len(kinds) > 1 and loc and loc[0] == kind else loc
                key = loc[0] if loc else None
                if err["type"] == "extra_forbidden" and key is not None:
                    allowed = _allowed_keys(kinds[str(kind)])
                    message = _unknown(key, "key", allowed, f" for a {kind} connection")
                else:
                    message = str(err["msg"]).removeprefix("Value error, ")
                problems.append(_where(source, root, name, key, loc[1:]) + message)
    if problems:
        raise ConfigError("; ".join(problems))
    return parsed


def _allowed_keys(model: type[ConnectionConfig]) -> list[str]:
    keys = [k for k in model.model_fields if k != "name"]
    return keys + [f"{k}_env" for k in secret_fields(model)]


def _unknown(value: object, what: str, known: Mapping[str, Any] | list[str], suffix: str = "") -> str:
    import difflib

    names = sorted(known)
    close = difflib.get_close_matches(str(value), names, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown {what} {value!r}{suffix} ({hint}known: {', '.join(names)})"


def _where(
    source: str, root: Callable[[], Any], name: str, key: str | None, rest: list[str] | None = None
) -> str:
    path = ["connections", name, *([key] if key else []), *(rest or [])]
    line = _line_of(root(), path[: 3 if key else 2])
    return f"{source}{f':{line}' if line else ''}: {'.'.join(path)}: "


def _compose(text: str | None) -> Any:
    """The YAML node tree of ``text`` (for line numbers), ``None`` without one."""
    if not text:
        return None
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        return None


def _line_of(root: Any, path: list[str]) -> int | None:
    """The 1-based line of the YAML key at ``path`` (the deepest one found)."""
    node, line = root, None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        match = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
        if match is None:
            break
        line, node = match[0].start_mark.line + 1, match[1]
    return line


def load_settings(config: Path | None = None, *, kinds: ConnectionKinds | None) -> Settings:
    """Load settings per the module rules; a broken file raises ``ConfigError`` naming the field.

    ``kinds`` (the connector registry's settings models) validates each connection by its kind.
    ``None`` leaves ``connections`` empty: for callers that need only the database and policy (the
    domain cannot know the connector kinds; the entry points pass the registry's).
    """
    path = find_config(config)
    text = path.read_text(encoding="utf-8") if path else None
    data: dict[str, Any] = _read_yaml(path) if path else {}
    base_dir = path.parent if path else Path.cwd()
    connections = data.pop("connections", None) or {}
    secrets_file = os.environ.get("LEADBRIDGE_SECRETS_FILE") or data.get("secrets_file")
    if secrets_file:
        secrets_path = Path(secrets_file) if Path(secrets_file).is_absolute() else base_dir / secrets_file
        if not secrets_path.exists():
            raise ConfigError(f"secrets file {secrets_path} does not exist")
        for name, values in _read_yaml(secrets_path).items():
            if name in APP_SECRETS and isinstance(values, str):
                data[name] = values  # the secrets file beats an inline value
            elif name in connections and isinstance(values, dict):
                connections[name] = {**connections[name], **values}
    if not isinstance(connections, dict):
        raise ConfigError(f"{path or 'settings'}: connections: expected a mapping of name → settings")
    typed = parse_connections(connections, kinds, source=str(path or "settings"), text=text) if kinds else {}
    # Environment variables beat the file: drop file keys the environment sets.
    for key in list(data):
        if f"LEADBRIDGE_{key.upper()}" in os.environ:
            data.pop(key)
    try:
        return Settings(**data, connections=typed, config_path=path, base_dir=base_dir)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path or 'settings'}: {problems}") from None
