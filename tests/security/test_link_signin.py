"""One-tap offer links: a sign-in grant is single-use, and a signed-in browser is never switched."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response

from leadbridge.core.model import utcnow
from leadbridge.notify.links import OfferLink, sign_offer_link
from leadbridge.web.deps import PARTNER_COOKIE
from tests.web.conftest import SECRET, World


def _link(world: World, offer_id: str, user_id: str, action: str = "accept") -> str:
    token = sign_offer_link(SECRET, OfferLink(offer_id, user_id, action, utcnow() + timedelta(hours=2)))
    return f"/inbox/o/{token}"


def _continue(client: TestClient, path: str) -> Response:
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    return client.post(path, data={"csrf_token": token.group(1)})


def test_given_a_link_when_opened_by_get_then_nobody_is_signed_in(world: World) -> None:
    client = world.client()
    page = client.get(_link(world, world.offer_a, world.user_a))
    assert page.status_code == 200 and 'id="continue"' in page.text
    assert PARTNER_COOKIE not in page.cookies
    assert client.get("/inbox").status_code == 303  # a prefetching scanner got no session


def test_given_a_link_that_signed_in_once_when_used_again_elsewhere_then_no_second_session(
    world: World,
) -> None:
    path = _link(world, world.offer_a, world.user_a)
    first = world.client()
    assert _continue(first, path).status_code == 303
    second = world.client()
    again = _continue(second, path)
    assert again.status_code == 410 and PARTNER_COOKIE not in again.cookies
    assert second.get("/inbox").status_code == 303
    # the first browser, signed in as the link's user, still reaches the offer through the link
    through = first.get(path)
    assert through.status_code == 303
    assert through.headers["location"] == f"/inbox/offers/{world.offer_a}?do=accept"


def test_given_a_browser_signed_in_as_b_when_it_opens_as_link_then_it_stays_b(world: World) -> None:
    client = world.partner_client(world.user_b)
    path = _link(world, world.offer_a, world.user_a)
    assert client.get(path).status_code == 409
    page = client.get("/inbox/signin")  # a fresh CSRF token for this browser
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    assert client.post(path, data={"csrf_token": token.group(1)}).status_code == 409
    home = client.get("/inbox")
    assert home.status_code == 200 and "Beta Solar" in home.text and "Alpha Heizung" not in home.text


def test_given_a_signed_in_browser_when_a_sign_in_link_is_opened_then_the_switch_is_announced(
    world: World,
) -> None:
    from leadbridge.core.store.web_tables import PartnerUserRow
    from leadbridge.web.sessions import issue_magic_link, session_user

    client = world.partner_client(world.user_b)
    old_cookie = client.cookies.get(PARTNER_COOKIE)
    with world.database.transaction() as session:
        user = session.get(PartnerUserRow, world.user_a)
        assert user is not None
        path = f"/inbox/signin/{issue_magic_link(session, user)}"
    page = client.get(path)
    assert 'id="switch-notice"' in page.text and "Beta Solar" in page.text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    assert client.post(path, data={"csrf_token": token.group(1)}).status_code == 303
    home = client.get("/inbox")
    assert "Alpha Heizung" in home.text
    with world.database.transaction() as session:
        assert session_user(session, old_cookie, "partner") is None  # the left account's session ended
