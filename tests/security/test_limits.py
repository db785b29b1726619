"""Bounded request bodies (413 before reading more) and an API that authenticates before parsing."""

from __future__ import annotations

import socket

from pydantic import SecretStr

from leadbridge.connectors.hubspot.config import HubSpotConfig
from leadbridge.runtime import build_runtime
from leadbridge.web.accounts import create_api_key
from leadbridge.web.app import create_app
from tests.security.conftest import serve
from tests.web.conftest import World


def _exchange(address: tuple[str, int], head: str, body: bytes = b"", *, timeout: float = 5.0) -> str:
    """Send a raw request (head, then as much of body as the server takes) and return the answer."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(head.encode())
        try:
            for start in range(0, len(body), 65536):
                sock.sendall(body[start : start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and hung up: what we want
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer:
                    break
        except ConnectionResetError:
            pass
    return answer.decode("latin-1")


def test_given_a_huge_declared_body_then_413_at_once_without_reading(live: tuple[str, int]) -> None:
    head = (
        "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: 200000000\r\n\r\n"
    )
    answer = _exchange(live, head)  # nothing of the body is ever sent: the answer must not wait for it
    assert answer.startswith("HTTP/1.1 413")


def test_given_a_chunked_body_over_the_limit_then_413(live: tuple[str, int], world: World) -> None:
    with world.database.transaction() as session:
        _, key = create_api_key(session, "crm")
    chunk = b"x" * 65536
    body = (f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n") * 40  # 2.5 MB, no Content-Length
    head = (
        f"POST /api/v1/leads/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    assert _exchange(live, head, body).startswith("HTTP/1.1 413")


def test_given_an_anonymous_api_call_then_401_before_its_body_is_parsed(world: World) -> None:
    client = world.client()
    response = client.post(
        "/api/v1/leads", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401 and response.json()["detail"] == "a valid API key is required"
    revoked = client.post(
        "/api/v1/leads",
        content=b"{}",
        headers={"Authorization": "Bearer lbk_made_up", "content-type": "application/json"},
    )
    assert revoked.status_code == 401


def test_given_an_unsigned_webhook_then_401_without_waiting_for_its_body(world: World) -> None:
    settings = world.settings.model_copy(
        update={
            "secret_key": SecretStr(world.settings.signing_key()),
            "connections": {
                **world.settings.connections,
                "hs": HubSpotConfig(name="hs", kind="hubspot", client_secret=SecretStr("app-secret")),
            },
        }
    )
    with serve(create_app(build_runtime(settings))) as address:
        head = "POST /webhooks/hs HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
        assert _exchange(address, head).startswith("HTTP/1.1 401")
        big = "POST /webhooks/hs HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n"
        assert _exchange(address, big).startswith("HTTP/1.1 413")  # webhooks: 256 KB


def test_the_limits_are_configurable(world: World) -> None:
    settings = world.settings.model_copy(update={"max_body_api": 2048})
    app = create_app(build_runtime(settings))
    with world.database.transaction() as session:
        _, key = create_api_key(session, "crm")
    from fastapi.testclient import TestClient

    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    assert client.post("/api/v1/leads/import", json=[{"external_id": "x" * 3000}]).status_code == 413
    assert client.post("/api/v1/leads/import", json=[]).status_code == 200
