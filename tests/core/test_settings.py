"""Settings precedence and secret handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadbridge.core.errors import ConfigError
from leadbridge.core.settings import load_settings

CONFIG = """
database_url: sqlite:///data/lb.db
connections:
  home:
    kind: salesforce
    username: int@acme.example
    password_env: TEST_SF_PASSWORD
secrets_file: secrets.yaml
"""


def test_secrets_come_from_env_and_secrets_file_and_never_print(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SF_PASSWORD", "hunter2-password")
    (tmp_path / "leadbridge.yaml").write_text(CONFIG)
    (tmp_path / "secrets.yaml").write_text("home:\n  security_token: tok-SECRET-123\n")
    settings = load_settings(tmp_path / "leadbridge.yaml")
    home = settings.connection("home")
    assert home.secret("password") == "hunter2-password"
    assert home.secret("security_token") == "tok-SECRET-123"
    dumped = json.dumps(settings.safe_dump())
    assert "hunter2" not in dumped and "SECRET-123" not in dumped
    assert "hunter2" not in repr(settings) and "SECRET-123" not in str(home)


def test_relative_sqlite_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text("database_url: sqlite:///lb.db\n")
    assert load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url == f"sqlite:///{tmp_path}/lb.db"


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "leadbridge.yaml").write_text("database_url: sqlite:///lb.db\n")
    monkeypatch.setenv("LEADBRIDGE_DATABASE_URL", "postgresql://u@h/db")
    assert load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url == "postgresql+psycopg://u@h/db"


def test_a_missing_secret_variable_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_SF_PASSWORD", raising=False)
    (tmp_path / "leadbridge.yaml").write_text(CONFIG.replace("secrets_file: secrets.yaml", ""))
    with pytest.raises(ConfigError, match=r"password_env names \$TEST_SF_PASSWORD, which is not set"):
        load_settings(tmp_path / "leadbridge.yaml")


def test_unknown_connection_names_the_known_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SF_PASSWORD", "x")
    (tmp_path / "leadbridge.yaml").write_text(CONFIG.replace("secrets_file: secrets.yaml", ""))
    with pytest.raises(ConfigError, match=r"unknown connection 'nope' \(known: home\)"):
        load_settings(tmp_path / "leadbridge.yaml").connection("nope")
