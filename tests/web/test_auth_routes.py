"""Signing in: magic links (sent over real SMTP), one-tap offer links, admin login, rate limits,
cookie flags and security headers."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response
from pydantic import SecretStr
from sqlalchemy import update

from leadbridge.core.model import utcnow
from leadbridge.core.store.web_tables import MagicLinkRow
from leadbridge.notify.links import OfferLink, sign_offer_link
from leadbridge.runtime import build_runtime
from leadbridge.web.app import create_app
from leadbridge.web.deps import PARTNER_COOKIE
from tests.web.conftest import ADMIN_PASSWORD, SECRET, SmtpServer, World, body_of, csrf_from


def _request_link(world: World, email: str):  # type: ignore[no-untyped-def]
    client = world.client()
    return client, client.post(
        "/inbox/signin", data={"email": email, "csrf_token": csrf_from(client, "/inbox/signin")}
    )


def _link_from_mail(smtp_server: SmtpServer) -> str:
    assert len(smtp_server.messages) == 1
    found = re.search(r"http://testserver(/inbox/signin/\S+)", body_of(smtp_server.messages[0]))
    assert found
    return found.group(1)


def _redeem(client, path: str):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_from(client, path)})


def test_magic_link_round_trip(world: World, smtp_server: SmtpServer) -> None:
    client, response = _request_link(world, "Anna@Alpha.example ")
    assert response.status_code == 200
    assert smtp_server.messages[0]["To"] == "anna@alpha.example"
    assert "Anmeldelink" in smtp_server.messages[0]["Subject"]  # the user's language
    path = _link_from_mail(smtp_server)
    confirm = client.get(path)  # opening the link changes nothing (mail scanners prefetch)
    assert confirm.status_code == 200 and PARTNER_COOKIE not in confirm.cookies
    signed_in = _redeem(client, path)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/inbox"
    cookie = signed_in.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert client.get("/inbox").status_code == 200


def test_given_a_used_magic_link_when_reused_then_410(world: World, smtp_server: SmtpServer) -> None:
    client, _ = _request_link(world, "anna@alpha.example")
    path = _link_from_mail(smtp_server)
    assert _redeem(client, path).status_code == 303
    other = world.client()
    reused = _redeem(other, path)
    assert reused.status_code == 410
    assert "bereits benutzt" in reused.text or "already used" in reused.text


def test_given_an_expired_magic_link_then_410(world: World, smtp_server: SmtpServer) -> None:
    client, _ = _request_link(world, "anna@alpha.example")
    path = _link_from_mail(smtp_server)
    with world.database.transaction() as session:
        session.execute(update(MagicLinkRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    response = _redeem(client, path)
    assert response.status_code == 410 and "expired" in response.text
    assert client.get("/inbox").status_code == 303


def test_given_an_unknown_magic_link_then_404(world: World) -> None:
    assert _redeem(world.client(), "/inbox/signin/not-a-token").status_code == 404


def test_given_an_unknown_address_then_the_same_answer_and_no_mail(
    world: World, smtp_server: SmtpServer
) -> None:
    _, known = _request_link(world, "bert@beta.example")
    _, unknown = _request_link(world, "nobody@nowhere.example")
    assert unknown.status_code == known.status_code == 200
    assert unknown.text.replace("\n", "").count("sign-in link is on its way") == 1
    assert len(smtp_server.messages) == 1


def test_magic_link_requests_are_rate_limited_per_address(world: World, smtp_server: SmtpServer) -> None:
    answers = [_request_link(world, "bert@beta.example")[1].status_code for _ in range(4)]
    assert answers == [200, 200, 200, 429]
    assert len(smtp_server.messages) == 3


def test_given_a_magic_link_request_without_csrf_then_403(world: World, smtp_server: SmtpServer) -> None:
    response = world.client().post("/inbox/signin", data={"email": "anna@alpha.example"})
    assert response.status_code == 403
    assert smtp_server.messages == []


def _offer_link(world: World, offer_id: str, user_id: str, action: str, *, hours: float = 1) -> str:
    token = sign_offer_link(SECRET, OfferLink(offer_id, user_id, action, utcnow() + timedelta(hours=hours)))
    return f"/inbox/o/{token}"


def _tap(client: TestClient, path: str) -> Response:
    """Open a one-tap link as a browser does: the page, then its Continue button."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return client.post(path, data={"csrf_token": token.group(1)})


def test_one_tap_offer_link_signs_in_and_opens_the_offer(world: World) -> None:
    client = world.client()
    response = _tap(client, _offer_link(world, world.offer_a, world.user_a, "accept"))
    assert response.status_code == 303
    assert response.headers["location"] == f"/inbox/offers/{world.offer_a}?do=accept"
    page = client.get(response.headers["location"])
    assert page.status_code == 200 and 'class="focus"' in page.text


def test_tampered_or_expired_offer_links_are_refused(world: World) -> None:
    good = _offer_link(world, world.offer_a, world.user_a, "accept")
    assert world.client().get(good[:-2] + "xx").status_code == 410
    assert (
        world.client().get(_offer_link(world, world.offer_a, world.user_a, "accept", hours=-1)).status_code
        == 410
    )


def test_an_offer_link_for_another_partners_offer_ends_at_404(world: World) -> None:
    client = world.client()
    response = _tap(client, _offer_link(world, world.offer_b, world.user_a, "accept"))
    assert client.get(response.headers["location"]).status_code == 404


def test_admin_login_and_logout(world: World) -> None:
    client = world.client()
    token = csrf_from(client, "/cockpit/login")
    wrong = client.post(
        "/cockpit/login", data={"email": "admin@maker.example", "password": "nope", "csrf_token": token}
    )
    assert wrong.status_code == 401
    ok = client.post(
        "/cockpit/login",
        data={"email": "admin@maker.example", "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/cockpit"
    assert client.get("/cockpit").status_code == 200
    out = client.post("/cockpit/logout", data={"csrf_token": csrf_from(client, "/cockpit")})
    assert out.status_code == 303
    assert client.get("/cockpit").status_code == 303


def test_admin_login_is_throttled_per_client_and_address_never_locked(world: World) -> None:
    # The delays are measured on the runtime's clock: held still, a slow machine cannot let one pass.
    frozen = utcnow()
    world.app.state.runtime.clock = lambda: frozen
    attacker = TestClient(world.app, follow_redirects=False, client=("203.0.113.7", 4000))
    token = csrf_from(attacker, "/cockpit/login")
    tries = [
        attacker.post(
            "/cockpit/login", data={"email": "admin@maker.example", "password": "bad", "csrf_token": token}
        )
        for _ in range(5)
    ]
    assert [t.status_code for t in tries] == [401, 401, 401, 429, 429]
    assert int(tries[-1].headers["retry-after"]) >= 1
    frozen += timedelta(seconds=1.5)  # the first delay (1 s) has passed: one more try, then 2 s
    again = [attacker.post("/cockpit/login", data={"email": "admin@maker.example", "password": "bad",
                                                   "csrf_token": token}) for _ in range(2)]  # fmt: skip
    assert [t.status_code for t in again] == [401, 429] and int(again[1].headers["retry-after"]) >= 2
    admin = TestClient(world.app, follow_redirects=False, client=("198.51.100.20", 4000))
    right = {"email": "admin@maker.example", "password": ADMIN_PASSWORD}
    ok = admin.post("/cockpit/login", data={**right, "csrf_token": csrf_from(admin, "/cockpit/login")})
    assert ok.status_code == 303  # the real admin elsewhere is not locked out


def test_security_headers_on_every_response(world: World) -> None:
    for path in ("/inbox/signin", "/healthz", "/openapi.json", "/cockpit/login"):
        headers = world.client().get(path).headers
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "strict-transport-security" not in headers


def test_over_https_cookies_are_secure_and_hsts_is_sent(world: World) -> None:
    settings = world.settings.model_copy(
        update={"public_url": "https://leads.example", "secret_key": SecretStr(SECRET)}
    )
    from fastapi.testclient import TestClient

    client = TestClient(create_app(build_runtime(settings)), base_url="https://testserver")
    response = client.get("/inbox/signin")
    assert "Secure" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"].startswith("max-age=")
