"""No token, key or secret reaches a log line: a whole scripted session, every token it was given,
searched for in everything the server logged (JSON lines at DEBUG and the raw records)."""

from __future__ import annotations

import io
import logging
import re

import pytest
from fastapi.testclient import TestClient

from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from leadbridge.ops.logs import configure_logging
from leadbridge.ops.redact import REDACTED, redact_headers, redact_path, redact_text
from leadbridge.web.accounts import create_api_key
from leadbridge.web.deps import ADMIN_COOKIE, ANON_COOKIE, PARTNER_COOKIE
from tests.web.conftest import ADMIN_PASSWORD, SmtpServer, World, body_of, csrf_from

# The test's own HTTP client and SMTP server (aiosmtpd: "mail.log") log what they carry; not leadbridge.
CLIENT_SIDE = ("httpx", "httpcore", "mail.log")


def test_the_redaction_point_masks_paths_headers_and_text() -> None:
    token = "A" * 43
    assert redact_path(f"/inbox/signin/{token}") == f"/inbox/signin/{REDACTED}"
    assert redact_path("/inbox/o/short.x") == f"/inbox/o/{REDACTED}"
    lead_path = "/inbox/leads/L-01JABCDEF0123456789ABCDEFG"
    assert redact_path(lead_path) == lead_path
    headers = redact_headers({"Authorization": "Bearer lbk_x", "Cookie": "lb_session=abc", "Accept": "*/*"})
    assert headers == {"Authorization": REDACTED, "Cookie": REDACTED, "Accept": "*/*"}
    assert redact_text(f"key lbk_{token[:10]} and {token}") == f"key {REDACTED} and {REDACTED}"


def _cookie(client: TestClient, name: str) -> str:
    value = client.cookies.get(name)
    assert value, f"no {name} cookie"
    return value


def test_given_a_whole_session_then_no_issued_token_is_in_the_logs(
    world: World, smtp_server: SmtpServer, caplog: pytest.LogCaptureFixture
) -> None:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", stream=stream)
    caplog.set_level(logging.DEBUG)
    issued: set[str] = {world.settings.signing_key()}
    try:
        partner = world.client()
        csrf = csrf_from(partner, "/inbox/signin")
        issued |= {csrf, _cookie(partner, ANON_COOKIE)}
        partner.post("/inbox/signin", data={"email": "anna@alpha.example", "csrf_token": csrf})
        found = re.search(r"/inbox/signin/(\S+)", body_of(smtp_server.messages[-1]))
        assert found
        magic = found.group(1)
        issued.add(magic)
        assert partner.post(f"/inbox/signin/{magic}", data={"csrf_token": "forged"}).status_code == 403
        assert partner.post(f"/inbox/signin/{magic}", data={"csrf_token": csrf}).status_code == 303
        issued.add(_cookie(partner, PARTNER_COOKIE))
        assert partner.post(f"/inbox/signin/{magic}", data={"csrf_token": csrf}).status_code in (403, 410)

        mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
        Notifier(world.database, world.settings, mailer).offer(world.offer_a)
        links = re.findall(r"/inbox/o/(\S+)", body_of(smtp_server.messages[-1]))
        assert len(links) >= 3
        issued |= set(links)
        fresh = world.client()
        assert fresh.post(f"/inbox/o/{links[0]}", data={"csrf_token": "forged"}).status_code == 403
        tap = csrf_from(fresh, f"/inbox/o/{links[0]}")
        assert fresh.post(f"/inbox/o/{links[0]}", data={"csrf_token": tap}).status_code == 303
        issued |= {_cookie(fresh, PARTNER_COOKIE), _cookie(fresh, ANON_COOKIE)}
        assert fresh.get("/inbox/o/" + links[1][:-3] + "abc").status_code == 410
        other = world.partner_client(world.user_b)
        assert other.get(f"/inbox/offers/{world.offer_a}").status_code == 404  # logged as a denial
        issued.add(_cookie(other, PARTNER_COOKIE))

        with world.database.transaction() as session:
            _, admin_key = create_api_key(session, "crm-import")
            _, partner_key = create_api_key(session, "alpha-crm", world.partner_a)
        issued |= {admin_key, partner_key}
        api = world.client()
        for key, status in ((admin_key, 200), (partner_key, 403), (admin_key + "x", 401)):
            answer = api.get("/api/v1/partners", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == status

        admin = world.client()
        token = csrf_from(admin, "/cockpit/login")
        issued |= {token, _cookie(admin, ANON_COOKIE)}
        wrong = {"email": "admin@maker.example", "password": "wrong-password", "csrf_token": token}
        assert admin.post("/cockpit/login", data=wrong).status_code == 401
        right = {**wrong, "password": ADMIN_PASSWORD}
        assert admin.post("/cockpit/login", data=right).status_code == 303
        issued.add(_cookie(admin, ADMIN_COOKIE))
        assert admin.post("/cockpit/logout", data={"csrf_token": "forged"}).status_code == 403
    finally:
        logging.getLogger().removeHandler(handler)
    records = [r for r in caplog.records if not r.name.startswith(CLIENT_SIDE)]
    raw = "\n".join(r.getMessage() for r in records)
    logged = stream.getvalue() + "\n" + raw
    assert "CSRF token rejected" in raw and "/inbox/signin/" in raw  # paths were logged, redacted
    assert "failed admin login" in raw
    leaked = sorted(t for t in issued if t in logged)
    where = [line.replace(t, "<TOKEN>")[:200] for t in leaked for line in logged.splitlines() if t in line]
    assert leaked == [], f"{len(leaked)} issued token(s) found in the logs: {where}"
    assert ADMIN_PASSWORD not in logged and "wrong-password" not in logged
