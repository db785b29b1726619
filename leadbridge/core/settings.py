"""Settings: environment variables (prefix ``LEADBRIDGE_``) over ``leadbridge.yaml`` over defaults.

Rules:
- Configuration is found at ``--config PATH``, else ``$LEADBRIDGE_CONFIG``, else ``./leadbridge.yaml``;
  without one, leadbridge runs on defaults (SQLite file ``leadbridge.db`` in the current directory).
- Relative paths in the YAML (database file, policy, mappings, secrets file) are relative to the YAML.
- Secrets are ``SecretStr``: they come from the environment (``password_env: NAME``), from the
  secrets file (``secrets_file``, a YAML map ``connection -> {field: value}``) or inline, and are
  never printed: ``safe_dump`` masks them.
- The app's ``secret_key`` (signs CSRF tokens, encrypts one-tap links) has no default: ``leadbridge
  init`` writes a fresh random one into the secrets file (top-level ``secret_key``), the environment
  (``LEADBRIDGE_SECRET_KEY``) or the YAML may give it; a key shorter than ``MIN_SECRET_KEY_CHARS`` or
  the default shipped by earlier versions is refused (``secret_key_problem``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from leadbridge.core.errors import ConfigError

CONFIG_FILE_NAME = "leadbridge.yaml"
MIN_SECRET_KEY_CHARS = 32
# Shipped as the default by earlier versions: public, so it must never sign anything again.
KNOWN_PUBLIC_KEYS = frozenset({"change-me-leadbridge-dev-secret"})
SECRET_FIELDS = (
    "password",
    "security_token",
    "consumer_secret",
    "private_key",
    "access_token",
    "client_secret",
    "webhook_secret",
    "api_key",
)


class ConnectionConfig(BaseModel):
    """One external system leadbridge talks to: the home CRM, a partner CRM, the inbox, CSV, API."""

    model_config = ConfigDict(extra="allow")

    name: str = ""
    kind: Literal["salesforce", "hubspot", "csv", "inbox", "api", "webhook"]
    role: Literal["manufacturer", "partner"] = "manufacturer"
    partner_id: str | None = None
    mapping: str | None = None
    object: str | None = None
    instance_url: str | None = None
    base_url: str | None = None
    auth: Literal["password", "jwt", "client_credentials", "session", "token"] | None = None
    username: str | None = None
    consumer_key: str | None = None
    domain: str | None = None
    ca_file: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    private_key: SecretStr | None = None
    access_token: SecretStr | None = None
    client_secret: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    qualification_filter: str | None = None
    quota_stop_share: float = Field(default=0.9, gt=0, le=1)
    poll_seconds: int = Field(default=60, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _secrets_from_env(cls, data: Any) -> Any:
        """``<field>_env: VAR`` reads the secret from environment variable VAR."""
        if not isinstance(data, dict):
            return data
        for field in SECRET_FIELDS:
            env_name = data.pop(f"{field}_env", None)
            if env_name:
                if env_name not in os.environ:
                    raise ValueError(f"{field}_env names ${env_name}, which is not set")
                data[field] = os.environ[env_name]
        return data

    def secret(self, field: str) -> str | None:
        value = getattr(self, field, None)
        return value.get_secret_value() if isinstance(value, SecretStr) else value


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
    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)

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
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def load_settings(config: Path | None = None) -> Settings:
    """Load settings per the module rules; a broken file raises ``ConfigError`` naming the field."""
    path = find_config(config)
    data: dict[str, Any] = _read_yaml(path) if path else {}
    base_dir = path.parent if path else Path.cwd()
    connections = data.get("connections") or {}
    secrets_file = os.environ.get("LEADBRIDGE_SECRETS_FILE") or data.get("secrets_file")
    if secrets_file:
        secrets_path = Path(secrets_file) if Path(secrets_file).is_absolute() else base_dir / secrets_file
        if not secrets_path.exists():
            raise ConfigError(f"secrets file {secrets_path} does not exist")
        for name, values in _read_yaml(secrets_path).items():
            if name == "secret_key" and isinstance(values, str):
                data["secret_key"] = values  # the secrets file beats an inline key
            elif name in connections and isinstance(values, dict):
                connections[name] = {**connections[name], **values}
    for name, conn in connections.items():
        if isinstance(conn, dict):
            conn.setdefault("name", name)
    # Environment variables beat the file: drop file keys the environment sets.
    for key in list(data):
        if f"LEADBRIDGE_{key.upper()}" in os.environ:
            data.pop(key)
    try:
        return Settings(**data, config_path=path, base_dir=base_dir)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"{path or 'settings'}: {problems}") from None
