"""A channel manager's partner page costs the same SQL statements with few or many partners (the
page's partners are read at once to check its regions, not one query per partner)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from leadbridge.core.roles import Role
from leadbridge.web.accounts import create_admin
from leadbridge.web.deps import ADMIN_COOKIE
from leadbridge.web.sessions import start_session
from tests.builders import a_partner
from tests.web.conftest import ADMIN_PASSWORD, World


def _statements(world: World, client: Any, path: str) -> tuple[int, str]:
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(world.database.engine, "before_cursor_execute", record)
    try:
        response = client.get(path)
    finally:
        event.remove(world.database.engine, "before_cursor_execute", record)
    assert response.status_code == 200, response.text
    return len(statements), response.text


def test_a_channel_managers_partner_page_costs_the_same_statements_with_more_partners(world: World) -> None:
    with world.database.transaction() as session:
        admin = create_admin(session, "south@maker.example", ADMIN_PASSWORD, role=Role.CHANNEL_MANAGER,
                             regions=("DE-8",))  # fmt: skip
        token = start_session(session, "admin", admin.id)
    manager = world.client()
    manager.cookies.set(ADMIN_COOKIE, token)
    manager.get("/cockpit/partners")  # warm: the session lookups settle
    few, _ = _statements(world, manager, "/cockpit/partners")
    with world.database.transaction() as session:
        for n in range(6):
            a_partner(session, name=f"Süd {n}", territory={"countries": ["DE"], "postal_prefixes": ["8"]})
            a_partner(session, name=f"Nord {n}", territory={"countries": ["DE"], "postal_prefixes": ["1"]})
    many, page = _statements(world, manager, "/cockpit/partners")
    assert "Süd 5" in page and "Nord 5" not in page  # its regions' partners only
    assert many == few
