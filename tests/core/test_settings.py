"""Settings precedence and secret handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import ConfigError

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
    settings = default_registry().load_settings(tmp_path / "leadbridge.yaml")
    home = settings.connection("home")
    assert home.secret("password") == "hunter2-password"
    assert home.secret("security_token") == "tok-SECRET-123"
    dumped = json.dumps(settings.safe_dump())
    assert "hunter2" not in dumped and "SECRET-123" not in dumped
    assert "hunter2" not in repr(settings) and "SECRET-123" not in str(home)


def test_relative_sqlite_paths_are_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text("database_url: sqlite:///lb.db\n")
    assert (
        default_registry().load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url
        == f"sqlite:///{tmp_path}/lb.db"
    )


def test_environment_beats_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "leadbridge.yaml").write_text("database_url: sqlite:///lb.db\n")
    monkeypatch.setenv("LEADBRIDGE_DATABASE_URL", "postgresql://u@h/db")
    assert (
        default_registry().load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url
        == "postgresql+psycopg://u@h/db"
    )


def test_a_missing_secret_variable_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_SF_PASSWORD", raising=False)
    (tmp_path / "leadbridge.yaml").write_text(CONFIG.replace("secrets_file: secrets.yaml", ""))
    with pytest.raises(ConfigError, match=r"password_env names \$TEST_SF_PASSWORD, which is not set"):
        default_registry().load_settings(tmp_path / "leadbridge.yaml")


def test_unknown_connection_names_the_known_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_SF_PASSWORD", "x")
    (tmp_path / "leadbridge.yaml").write_text(CONFIG.replace("secrets_file: secrets.yaml", ""))
    with pytest.raises(ConfigError, match=r"unknown connection 'nope' \(known: home\)"):
        default_registry().load_settings(tmp_path / "leadbridge.yaml").connection("nope")


def test_a_misspelt_key_is_an_error_naming_the_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text(
        "connections:\n  home:\n    kind: salesforce\n    usrname: int@acme.example\n"
    )
    with pytest.raises(ConfigError) as error:
        default_registry().load_settings(tmp_path / "leadbridge.yaml")
    text = str(error.value)
    assert f"{tmp_path / 'leadbridge.yaml'}:4: connections.home.usrname" in text
    assert "did you mean 'username'?" in text


def test_a_key_of_another_kind_is_refused_and_a_secret_env_key_of_this_kind_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_HS_TOKEN", "pat-123")
    config = tmp_path / "leadbridge.yaml"
    config.write_text("connections:\n  hs:\n    kind: hubspot\n    access_token_env: TEST_HS_TOKEN\n")
    assert default_registry().load_settings(config).connection("hs").secret("access_token") == "pat-123"
    config.write_text("connections:\n  hs:\n    kind: hubspot\n    security_token_env: TEST_HS_TOKEN\n")
    with pytest.raises(
        ConfigError, match=r"leadbridge.yaml:4: connections.hs.security_token_env: unknown key"
    ):
        default_registry().load_settings(config)


def test_an_unknown_kind_names_the_registered_ones(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text("connections:\n  out:\n    kind: zoho\n")
    with pytest.raises(
        ConfigError,
        match=r":3: connections.out.kind: unknown kind 'zoho' \(known: csv, dynamics, hubspot",
    ):
        default_registry().load_settings(tmp_path / "leadbridge.yaml")


def test_a_role_the_kind_cannot_play_is_refused(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text(
        "connections:\n  box:\n    kind: inbox\n    role: manufacturer\n"
    )
    with pytest.raises(ConfigError, match=r"connections.box.role"):
        default_registry().load_settings(tmp_path / "leadbridge.yaml")


def test_every_problem_of_the_file_is_listed_at_once(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text(
        "connections:\n  a:\n    kind: salesforce\n    poll_seconds: 0\n"
        "  b:\n    kind: hubspot\n    tokn: x\n"
    )
    with pytest.raises(ConfigError) as error:
        default_registry().load_settings(tmp_path / "leadbridge.yaml")
    assert ":4: connections.a.poll_seconds:" in str(error.value) and ":7: connections.b.tokn:" in str(
        error.value
    )
