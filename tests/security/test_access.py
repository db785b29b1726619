"""Sign-in and operations endpoints that tell an attacker nothing and cannot be used to lock
anybody out: equal answers, one password check, per-client throttling, trusted proxies only,
/metrics gated, deactivation final, scrypt at OWASP cost."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.web_tables import AdminUserRow
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.runtime import build_runtime
from leadbridge.web import security
from leadbridge.web.accounts import authenticate_admin, create_admin
from leadbridge.web.app import create_app
from leadbridge.web.security import SCRYPT_N, hash_password, needs_rehash
from tests.web.conftest import ADMIN_PASSWORD, SmtpServer, World, csrf_from

# OWASP's password storage cheat sheet: scrypt N=2^17, r=8, p=1, or one of its listed equivalents.
OWASP_MINIMUMS = ((2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), (2**14, 8, 5), (2**13, 8, 10))


def _client(world: World, host: str, app: Any = None, **headers: str) -> TestClient:
    return TestClient(app or world.app, follow_redirects=False, client=(host, 4000), headers=headers)


def _ask_link(client: TestClient, email: str) -> Any:
    return client.post(
        "/inbox/signin", data={"email": email, "csrf_token": csrf_from(client, "/inbox/signin")}
    )


def _count_scrypt(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = hashlib.scrypt

    def counting(*args: Any, **kwargs: Any) -> bytes:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(security.hashlib, "scrypt", counting)
    return calls


def test_an_unknown_admin_address_costs_one_password_check_like_a_known_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _count_scrypt(monkeypatch)
    with world.database.transaction() as session:
        assert authenticate_admin(session, "admin@maker.example", "wrong password!") is None
        known = len(calls)
        assert authenticate_admin(session, "nobody@maker.example", "wrong password!") is None
        unknown = len(calls) - known
    assert known == unknown == 1


def test_scrypt_cost_is_at_least_owasps_minimum_and_old_hashes_are_upgraded(world: World) -> None:
    _, n, r, p, _, _ = hash_password("x" * 12).split("$")
    assert any(int(n) >= n0 and int(r) >= r0 and int(p) >= p0 for n0, r0, p0 in OWASP_MINIMUMS)
    assert not needs_rehash(security.DUMMY_HASH)  # the equaliser costs what a real check costs
    weak = hashlib.scrypt(b"legacy password", salt=b"s" * 16, n=SCRYPT_N, r=8, p=1)
    legacy = f"scrypt${SCRYPT_N}$8$1${base64.b64encode(b's' * 16).decode()}${base64.b64encode(weak).decode()}"
    with world.database.transaction() as session:
        row = create_admin(session, "old@maker.example", "legacy password")
        row.password_hash = legacy
    with world.database.transaction() as session:
        assert authenticate_admin(session, "old@maker.example", "legacy password") is not None
    with world.database.transaction() as session:
        stored = session.query(AdminUserRow).filter_by(email="old@maker.example").one().password_hash
    assert stored != legacy and not needs_rehash(stored)


def test_sign_in_requests_answer_alike_for_known_unknown_and_while_smtp_is_down(
    world: World, smtp_server: SmtpServer
) -> None:
    known, unknown = (
        _ask_link(world.client(), "bert@beta.example"),
        _ask_link(world.client(), "no@where.example"),
    )
    assert known.status_code == unknown.status_code == 200
    assert len(smtp_server.messages) == 1  # mailed after the response, to the known address only
    down = create_app(build_runtime(world.settings, mailer=SmtpMailer("127.0.0.1", 9, "x@y.example")))
    while_down = _ask_link(TestClient(down, follow_redirects=False), "anna@alpha.example")
    assert while_down.status_code == 200

    def notice(text: str) -> str:
        return text.split('role="status">')[1].split("<")[0]

    assert notice(known.text) == notice(unknown.text) == notice(while_down.text)


def test_a_flood_from_one_client_does_not_lock_the_address_out_elsewhere(world: World) -> None:
    attacker = _client(world, "203.0.113.5")
    answers = [_ask_link(attacker, "bert@beta.example").status_code for _ in range(5)]
    assert answers == [200, 200, 200, 429, 429]
    assert _ask_link(_client(world, "198.51.100.9"), "bert@beta.example").status_code == 200


def test_x_forwarded_for_counts_only_from_a_trusted_proxy(world: World) -> None:
    # untrusted: a forged header changes nothing, the peer's bucket fills up
    answers = [
        _ask_link(_client(world, "203.0.113.5", **{"X-Forwarded-For": f"192.0.2.{i}"}), "anna@alpha.example")
        for i in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    proxied = world.settings.model_copy(update={"trusted_proxies": ["10.0.0.0/8"]})
    app = create_app(build_runtime(proxied))
    behind = [
        _ask_link(
            _client(world, "10.1.2.3", app, **{"X-Forwarded-For": f"6.6.6.6, 192.0.2.{i}"}),
            "bert@beta.example",
        )
        for i in range(4)
    ]
    assert [a.status_code for a in behind] == [200, 200, 200, 200]  # four real clients


def test_metrics_need_the_token_or_a_direct_loopback_caller(world: World) -> None:
    assert _client(world, "203.0.113.5").get("/metrics").status_code == 403
    assert _client(world, "127.0.0.1").get("/metrics").status_code == 200
    assert (
        _client(world, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.5"}).get("/metrics").status_code == 403
    )
    tokened = world.settings.model_copy(update={"metrics_token": SecretStr("m" * 40)})
    app = create_app(build_runtime(tokened))
    assert (
        _client(world, "203.0.113.5", app, Authorization="Bearer " + "m" * 40).get("/metrics").status_code
        == 200
    )
    assert _client(world, "203.0.113.5", app, Authorization="Bearer wrong").get("/metrics").status_code == 403


def test_deactivating_a_partner_ends_its_sessions_for_good(world: World) -> None:
    client = world.partner_client(world.user_a)
    assert client.get("/inbox").status_code == 200
    with world.database.transaction() as session:
        repo = PartnerRepository(session)
        repo.upsert(repo.get(world.partner_a).model_copy(update={"active": False}))
    assert client.get("/inbox").status_code == 303
    with world.database.transaction() as session:
        repo = PartnerRepository(session)
        repo.upsert(repo.get(world.partner_a).model_copy(update={"active": True}))
    assert client.get("/inbox").status_code == 303  # the old cookie stays dead
    assert world.partner_client(world.user_a).get("/inbox").status_code == 200


def test_admin_login_still_works_after_a_few_mistakes_of_ones_own(world: World) -> None:
    client = _client(world, "198.51.100.20")
    token = csrf_from(client, "/cockpit/login")
    for _ in range(2):
        assert (
            client.post(
                "/cockpit/login",
                data={"email": "admin@maker.example", "password": "typo", "csrf_token": token},
            ).status_code
            == 401
        )
    ok = client.post(
        "/cockpit/login",
        data={"email": "admin@maker.example", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert ok.status_code == 303
