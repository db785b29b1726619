"""No shipped secret: ``init`` writes a fresh key, serving commands refuse a bad one, links are sealed."""

from __future__ import annotations

import base64
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from leadbridge.cli.demo import demo_settings
from leadbridge.cli.main import _register, app
from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import ConfigError
from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.notify.links import OfferLink, read_offer_link, sign_offer_link
from leadbridge.runtime import build_runtime
from leadbridge.web.app import create_app
from tests.builders import TEST_SECRET_KEY

OLD_DEFAULT = "change-me-leadbridge-dev-secret"


def _init(directory: Path) -> Settings:
    _register()
    result = CliRunner().invoke(app, ["init", str(directory)])
    assert result.exit_code == 0, result.output
    return default_registry().load_settings(directory / "leadbridge.yaml")


def test_given_init_twice_then_each_directory_has_its_own_long_private_key(tmp_path: Path) -> None:
    first, second = _init(tmp_path / "a"), _init(tmp_path / "b")
    assert first.secret_key is not None and second.secret_key is not None
    one, two = first.secret_key.get_secret_value(), second.secret_key.get_secret_value()
    assert one != two
    assert len(base64.urlsafe_b64decode(one + "=" * (-len(one) % 4))) >= 32
    assert first.secret_key_problem() is None
    secrets_file = tmp_path / "a" / "secrets.yaml"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    assert one not in (tmp_path / "a" / "leadbridge.yaml").read_text()


def test_given_init_force_then_the_key_changes_and_connection_secrets_stay(tmp_path: Path) -> None:
    before = _init(tmp_path)
    secrets_file = tmp_path / "secrets.yaml"
    # a connection's secrets (the template's connections have none; the inbox refuses unknown keys)
    secrets_file.write_text(secrets_file.read_text() + "home:\n  password: keep-me\n")
    result = CliRunner().invoke(app, ["init", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    after = default_registry().load_settings(tmp_path / "leadbridge.yaml")
    assert before.secret_key is not None and after.secret_key is not None
    assert after.secret_key.get_secret_value() != before.secret_key.get_secret_value()
    assert "home:\n  password: keep-me" in secrets_file.read_text()


@pytest.mark.parametrize("key", [None, OLD_DEFAULT, "short-key-of-31-characters-xxxx"])
@pytest.mark.parametrize("command", ["run", "worker", "beat"])
def test_given_a_bad_key_when_a_serving_command_starts_then_it_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, key: str | None
) -> None:
    config = "database_url: sqlite:///lb.db\nbroker_url: redis://127.0.0.1:1/0\n"
    if key is not None:
        config += f"secret_key: {key}\n"
    (tmp_path / "leadbridge.yaml").write_text(config)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADBRIDGE_SECRET_KEY", raising=False)
    _register()
    result = CliRunner().invoke(app, [command])
    assert result.exit_code != 0
    assert f"`leadbridge {command}` refuses to start" in result.output
    assert "secret_key" in result.output


def test_the_environment_supplies_a_key_that_beats_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "leadbridge.yaml").write_text(f"secret_key: {OLD_DEFAULT}\n")
    monkeypatch.setenv("LEADBRIDGE_SECRET_KEY", TEST_SECRET_KEY)
    assert default_registry().load_settings(tmp_path / "leadbridge.yaml").signing_key() == TEST_SECRET_KEY


def test_the_web_app_is_never_built_around_a_bad_key() -> None:
    for key in (None, SecretStr(OLD_DEFAULT), SecretStr("x" * 31)):
        with pytest.raises(ConfigError, match="secret_key"):
            create_app(build_runtime(Settings(database_url="sqlite://", secret_key=key, policy=None)))


def test_the_demo_makes_its_own_key_in_an_old_directory(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text(f"database_url: sqlite:///demo.db\nsecret_key: {OLD_DEFAULT}\n")
    first, second = demo_settings(tmp_path), demo_settings(tmp_path)
    assert first.secret_key_problem() is None and second.secret_key_problem() is None
    assert first.signing_key() != second.signing_key()


def test_an_offer_link_reveals_neither_user_nor_offer_and_needs_the_key() -> None:
    link = OfferLink("O-offer-4711", "U-user-0815", "accept", utcnow() + timedelta(days=1))
    token = sign_offer_link(TEST_SECRET_KEY, link)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for clear in ("U-user-0815", "O-offer-4711", "accept"):
        assert clear not in token and clear.encode() not in raw
    read = read_offer_link(TEST_SECRET_KEY, token, now=utcnow())
    assert read is not None
    assert (read.user_id, read.offer_id, read.action) == ("U-user-0815", "O-offer-4711", "accept")
    assert read_offer_link("another-key-of-enough-length-0123456789", token, now=utcnow()) is None
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    assert read_offer_link(TEST_SECRET_KEY, flipped, now=utcnow()) is None
    assert sign_offer_link(TEST_SECRET_KEY, link) != token  # a fresh IV every time
    for junk in ("", "é", "ü" * 40, "x" * 5000, "..", "AAAA"):
        assert read_offer_link(TEST_SECRET_KEY, junk, now=utcnow()) is None


def test_the_secrets_file_may_hold_the_metrics_token(tmp_path: Path) -> None:
    (tmp_path / "leadbridge.yaml").write_text("secrets_file: s.yaml\n")
    (tmp_path / "s.yaml").write_text(f"secret_key: {TEST_SECRET_KEY}\nmetrics_token: scrape-me-0123456789\n")
    settings = default_registry().load_settings(tmp_path / "leadbridge.yaml")
    assert (
        settings.metrics_token is not None
        and settings.metrics_token.get_secret_value() == "scrape-me-0123456789"
    )
    assert settings.signing_key() == TEST_SECRET_KEY
