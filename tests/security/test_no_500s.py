"""Inputs that used to end in a 500 with a traceback: each is now a clear 4xx (or a line-numbered
import error), and an unforeseen error's 500 page still carries the security headers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.hubspot.config import HubSpotConfig
from leadbridge.runtime import build_runtime
from leadbridge.sandbox.hubspot.signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_v3
from leadbridge.web.accounts import create_api_key
from leadbridge.web.app import create_app
from leadbridge.web.security import SECURITY_HEADERS
from tests.builders import TEST_SECRET_KEY, a_lead
from tests.web.conftest import World, csrf_from


def _admin_api(world: World) -> TestClient:
    with world.database.transaction() as session:
        _, key = create_api_key(session, "crm-import")
    return TestClient(world.app, headers={"Authorization": f"Bearer {key}"})


@pytest.mark.parametrize("token", ["é", "ü" * 30, "%C3%A9.%FF", "AAAA.é"])
def test_a_non_ascii_offer_link_token_is_410(world: World, token: str) -> None:
    assert world.client().get(f"/inbox/o/{token}").status_code == 410


def test_a_non_ascii_csrf_field_is_403(world: World) -> None:
    client = world.client()
    csrf_from(client, "/inbox/signin")
    response = client.post("/inbox/signin", data={"email": "a@b.example", "csrf_token": "äöü€"})
    assert response.status_code == 403


def test_an_admin_post_of_an_existing_lead_id_is_409(world: World) -> None:
    lead = a_lead().model_dump(mode="json")
    lead["id"] = world.lead_a
    response = _admin_api(world).post("/api/v1/leads", json=lead)
    assert response.status_code == 409
    assert "belongs to another lead" in response.json()["error"] and "Traceback" not in response.text


@pytest.mark.parametrize("body", [b"[1]", b"null", b'["x", {}]', b"3", b'"text"'])
def test_a_signed_webhook_body_that_is_not_events_is_400(world: World, body: bytes) -> None:
    config = HubSpotConfig(name="hs", kind="hubspot", client_secret=SecretStr("app-secret"))
    settings = world.settings.model_copy(update={"connections": {**world.settings.connections, "hs": config}})
    client = TestClient(create_app(build_runtime(settings)))
    stamp = int(time.time() * 1000)
    signature = sign_v3("app-secret", "POST", "http://testserver/webhooks/hs", body, stamp)
    response = client.post(
        "/webhooks/hs", content=body, headers={SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: str(stamp)}
    )
    if body == b"null":  # nothing to take in: an empty delivery
        assert response.status_code == 202 and response.json()["accepted"] == 0
    else:
        assert response.status_code == 400 and "array of event objects" in response.json()["detail"]


def test_a_csv_cell_over_128_kb_is_a_line_numbered_import_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "leadbridge.yaml").write_text(
        f"database_url: sqlite:///lb.db\nsecret_key: {TEST_SECRET_KEY}\n"
    )
    monkeypatch.chdir(tmp_path)
    _register()
    assert CliRunner().invoke(app, ["db", "upgrade"]).exit_code == 0
    huge = "x" * (200 * 1024)
    (tmp_path / "leads.csv").write_text(
        f'external_id,email,company\nA-1,a@x.example,Alpha\nA-2,b@x.example,"{huge}"\nA-3,c@x.example,Gamma\n'
    )
    result = CliRunner().invoke(app, ["leads", "import", "leads.csv"])
    assert result.exit_code != 0
    assert "leads.csv:3" in result.output and "128 KB" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_an_unforeseen_error_is_a_500_with_the_security_headers_and_no_traceback(world: World) -> None:
    def explode() -> None:
        raise RuntimeError("secret internals")

    world.app.add_api_route("/inbox/explode", explode)
    world.app.add_api_route("/api/v1/explode", explode)
    client = TestClient(world.app, raise_server_exceptions=False)
    for path in ("/inbox/explode", "/api/v1/explode"):
        response = client.get(path, headers={"Authorization": "Bearer x"})
        if path.startswith("/api/"):
            assert response.status_code == 401  # the API key gate comes first
            with world.database.transaction() as session:
                _, key = create_api_key(session, "k")
            response = client.get(path, headers={"Authorization": f"Bearer {key}"})
            assert response.json() == {"detail": "internal error", "error": "internal"}
        assert response.status_code == 500
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert "secret internals" not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    "body",
    [
        b'{"external_id": "N-1", "email": "a@b.example", "company": "Nul\\u0000Co"}',
        b'{"external_id": "N-2", "email": "a@b.example", "score": NaN}',
        b'{"external_id": "N-3", "email": "a@b.example", "score": Infinity}',
        b'{"external_id": "N-4", "email": "a@b.example", "score": 1e999}',
        b'{"external_id": "N-5", "email": "a@b.example", "score": "NaN"}',
        b'{"external_id": "N-6", "email": "a@b.example", "custom": {"k\\u0000": 1}}',
    ],
)
def test_nul_bytes_and_non_finite_numbers_are_refused_at_the_api_edge(world: World, body: bytes) -> None:
    response = _admin_api(world).post(
        "/api/v1/leads", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text


def test_a_nul_in_the_path_is_refused(world: World) -> None:
    assert _admin_api(world).get("/api/v1/leads/L-%00x").status_code == 422
