"""The per-process cache of partner sessions (``web/session_cache.py``): it answers for the right
browser only, and every way a session ends still ends it — at once in this process, within the
cache's lifetime when another process made the change."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import create_engine, delete, update

from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.web_tables import WebSessionRow
from leadbridge.web.accounts import revoke_partner_user
from leadbridge.web.session_cache import SESSION_CACHE_TTL
from tests.web.conftest import World, csrf_from
from tests.web.test_page_queries import _counting


def _session_lookups(statements: list[str]) -> int:
    return sum("FROM web_sessions" in " ".join(statement.split()) for statement in statements)


def test_two_partners_alternating_each_see_only_their_own_inbox(world: World) -> None:
    alpha, beta = world.partner_client(world.user_a), world.partner_client(world.user_b)
    for _ in range(3):
        page_a, page_b = alpha.get("/inbox").text, beta.get("/inbox").text
        assert "Alpha Heizung" in page_a and "Beta Solar" not in page_a
        assert "Beta Solar" in page_b and "Alpha Heizung" not in page_b
        assert world.offer_a in page_a and world.offer_b not in page_a
        assert world.offer_b in page_b and world.offer_a not in page_b
    assert beta.get(f"/inbox/offers/{world.offer_a}").status_code == 404


def test_a_recent_session_is_answered_without_a_session_lookup(world: World) -> None:
    client = world.partner_client(world.user_a)
    with _counting(world) as first:
        assert client.get("/inbox").status_code == 200
    with _counting(world) as second:
        assert client.get("/inbox").status_code == 200
    assert _session_lookups(first) == 1
    assert _session_lookups(second) == 0


def test_signing_out_ends_a_cached_session_at_once(world: World) -> None:
    client = world.partner_client(world.user_a)
    token = client.cookies.get("lb_session")
    assert client.get("/inbox").status_code == 200
    response = client.post("/inbox/signout", data={"csrf_token": csrf_from(client, "/inbox")})
    assert response.status_code == 303
    client.cookies.set("lb_session", token)  # a copy of the old cookie is worth nothing now
    assert client.get("/inbox").status_code == 303


def test_a_session_ended_by_another_process_stops_working_within_the_cache_lifetime(world: World) -> None:
    now = utcnow()
    world.app.state.runtime.clock = lambda: now
    client = world.partner_client(world.user_a)
    assert client.get("/inbox").status_code == 200
    # Another process ends the session: its own engine, so nothing in this process hears of it.
    other_process = create_engine(world.database.engine.url)
    try:
        with other_process.begin() as conn:
            conn.execute(delete(WebSessionRow).where(WebSessionRow.user_id == world.user_a))
    finally:
        other_process.dispose()
    assert client.get("/inbox").status_code == 200  # the documented bound: up to the cache lifetime
    world.app.state.runtime.clock = lambda: now + SESSION_CACHE_TTL + timedelta(milliseconds=1)
    assert client.get("/inbox").status_code == 303


def test_a_user_revoked_by_a_command_in_this_process_is_signed_out_at_once(world: World) -> None:
    client = world.partner_client(world.user_a)
    assert client.get("/inbox").status_code == 200
    with Database(world.database.url).transaction() as session:  # the CLI's own Database
        revoke_partner_user(session, "anna@alpha.example")
    assert client.get("/inbox").status_code == 303


def test_a_partner_change_beyond_name_and_active_keeps_the_cache(world: World) -> None:
    client = world.partner_client(world.user_a)
    assert client.get("/inbox").status_code == 200
    with world.database.transaction() as session:
        session.execute(
            update(PartnerRow).where(PartnerRow.id == world.partner_a).values(updated_at=utcnow())
        )
    with _counting(world) as statements:
        assert client.get("/inbox").status_code == 200
    assert _session_lookups(statements) == 0
    with world.database.transaction() as session:
        session.execute(update(PartnerRow).where(PartnerRow.id == world.partner_a).values(name="Alpha Wärme"))
    assert "Alpha Wärme" in client.get("/inbox").text


def test_deleting_sessions_in_this_process_ends_cached_ones_at_once(world: World) -> None:
    alpha, beta = world.partner_client(world.user_a), world.partner_client(world.user_b)
    assert alpha.get("/inbox").status_code == 200 and beta.get("/inbox").status_code == 200
    with world.database.transaction() as session:
        session.execute(delete(WebSessionRow).where(WebSessionRow.user_id == world.user_a))
    assert alpha.get("/inbox").status_code == 303
    assert beta.get("/inbox").status_code == 200
