"""Pages cost a fixed number of SQL statements however many rows they show (no N+1 queries).

Each page is requested twice — with few rows, then with several times as many — counting the
statements the app sends to the database; the counts must be equal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.web.conftest import World, csrf_from


@contextmanager
def _counting(world: World) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = world.database.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _statements(world: World, fetch: Callable[[], Any]) -> int:
    with _counting(world) as statements:
        response = fetch()
    assert response.status_code == 200, response.text
    return len(statements)


def _accept(world: World, client: Any, offer_id: str) -> None:
    token = csrf_from(client, f"/inbox/offers/{offer_id}")
    response = client.post(f"/inbox/offers/{offer_id}/accept", data={"csrf_token": token})
    assert response.status_code == 303, response.text


def test_inbox_pages_cost_the_same_statements_with_more_offers_and_leads(world: World) -> None:
    client = world.partner_client(world.user_a)
    _accept(world, client, world.offer_a)
    client.get("/inbox")  # warm: the session and language lookups settle
    few = {
        "home": _statements(world, lambda: client.get("/inbox")),
        "lead": _statements(world, lambda: client.get(f"/inbox/leads/{world.lead_a}")),
        "offer": _statements(world, lambda: client.get(f"/inbox/offers/{world.offer(world.partner_a)[1]}")),
    }
    for _ in range(4):
        _accept(world, client, world.offer(world.partner_a)[1])
    for _ in range(5):
        world.offer(world.partner_a)
    page = client.get("/inbox").text
    assert page.count('href="/inbox/offers/') >= 6 and page.count('href="/inbox/leads/') >= 5
    many = {
        "home": _statements(world, lambda: client.get("/inbox")),
        "lead": _statements(world, lambda: client.get(f"/inbox/leads/{world.lead_a}")),
        "offer": _statements(world, lambda: client.get(f"/inbox/offers/{world.offer(world.partner_a)[1]}")),
    }
    assert many == few


def test_cockpit_pages_cost_the_same_statements_with_more_leads(world: World) -> None:
    admin = world.admin_client()
    admin.get("/cockpit/leads")
    pages = ["/cockpit/leads", f"/cockpit/leads/{world.lead_a}", "/cockpit/partners"]
    few = [_statements(world, lambda path=path: admin.get(path)) for path in pages]  # type: ignore[misc]
    client = world.partner_client(world.user_a)
    for _ in range(6):
        _accept(world, client, world.offer(world.partner_a)[1])
        world.offer(world.partner_b)
    many = [_statements(world, lambda path=path: admin.get(path)) for path in pages]  # type: ignore[misc]
    assert many == few
