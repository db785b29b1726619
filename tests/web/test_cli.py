"""``leadbridge users`` and ``leadbridge api-keys``: accounts made on the command line work on the web."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.registry import default_registry
from leadbridge.core.store.database import Database
from leadbridge.runtime import build_runtime
from leadbridge.web.app import create_app
from tests.builders import TEST_SECRET_KEY, a_partner


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "leadbridge.yaml").write_text(
        f"database_url: sqlite:///lb.db\npublic_url: http://testserver\nsecret_key: {TEST_SECRET_KEY}\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = default_registry().load_settings(tmp_path / "leadbridge.yaml")
    database = Database(settings.sqlalchemy_url)
    database.upgrade()
    with database.transaction() as session:
        a_partner(session, name="Alpha", external_id="PA-CLI")
    _register()
    return tmp_path


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_partner_user_sign_in_link_and_api_key_work_on_the_web(project: Path) -> None:
    created = json.loads(
        _run("users", "add-partner-user", "PA-CLI", "Ann@Alpha.example", "--json").splitlines()[-1]
    )
    assert created["email"] == "ann@alpha.example"
    key = json.loads(
        _run("api-keys", "create", "alpha-crm", "--partner", "PA-CLI", "--json").splitlines()[-1]
    )
    settings = default_registry().load_settings(project / "leadbridge.yaml")
    client = TestClient(create_app(build_runtime(settings)), follow_redirects=False)
    path = created["sign_in_link"].removeprefix("http://testserver")
    page = client.get(path).text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post(path, data={"csrf_token": token}).headers["location"] == "/inbox"
    assert client.get("/inbox").status_code == 200
    api = client.get("/api/v1/partner/offers", headers={"Authorization": f"Bearer {key['key']}"})
    assert api.status_code == 200 and api.json() == []
    users = json.loads(_run("users", "list", "--json").splitlines()[-1])
    assert [u["email"] for u in users] == ["ann@alpha.example"]
    _run("users", "revoke", "ann@alpha.example")
    assert client.get("/inbox").status_code == 303
    _run("api-keys", "revoke", key["id"])
    assert (
        client.get("/api/v1/partner/offers", headers={"Authorization": f"Bearer {key['key']}"}).status_code
        == 401
    )


def test_unknown_partner_is_a_clear_error(project: Path) -> None:
    result = CliRunner().invoke(app, ["users", "add-partner-user", "PA-NOPE", "x@example.com"])
    assert result.exit_code != 0
