"""Keyset paging of the cockpit lead list: every matching lead exactly once, in order, any page size."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

from leadbridge.core.store.database import Database
from leadbridge.core.store.keyset import Cursor
from leadbridge.core.store.tables import LeadRow
from leadbridge.web import cockpit_queries as queries

BASE = datetime(2025, 1, 1, tzinfo=UTC)
STATES = ("qualified", "won", "lost")

# (minutes after BASE, state): few distinct minutes, so many leads share a timestamp
leads_strategy = st.lists(st.tuples(st.integers(0, 5), st.sampled_from(STATES)), min_size=0, max_size=40)


def store(database: Database, leads: list[tuple[int, str]]) -> None:
    rows = [
        {
            "id": f"L-{n:04d}",
            "source_connection": "t",
            "external_id": f"X-{n}",
            "state": state,
            "round": 0,
            "data": {},
            "version": 0,
            "created_at": BASE,
            "updated_at": BASE + timedelta(minutes=minute),
        }
        for n, (minute, state) in enumerate(leads)
    ]
    with database.transaction() as session:
        session.execute(delete(LeadRow))
        if rows:
            session.execute(insert(LeadRow), rows)


def walk(database: Database, filters: queries.LeadFilters, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: Cursor | None = None
    for _ in range(100):
        with database.transaction() as session:
            page, cursor = queries.leads(session, filters, after=cursor, limit=limit)
        assert len(page) <= limit
        seen += [row.id for row in page]
        if cursor is None:
            return seen
        cursor = Cursor.decode(cursor.encode())  # as a client would send it back
    raise AssertionError("paging did not end")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(leads=leads_strategy, limit=st.integers(1, 7), state=st.sampled_from((None, *STATES)))
def test_pages_hold_every_matching_lead_once_newest_first(
    database: Database, leads: list[tuple[int, str]], limit: int, state: str | None
) -> None:
    store(database, leads)
    expected = sorted(
        ((minute, f"L-{n:04d}") for n, (minute, s) in enumerate(leads) if state is None or s == state),
        reverse=True,
    )
    assert walk(database, queries.LeadFilters(state=state), limit) == [lead_id for _, lead_id in expected]


@pytest.mark.parametrize("token", ["", "nonsense", "dHxub3QtYS1kYXRlfEwtMQ", "eHx5fHo"])
def test_a_malformed_cursor_is_a_value_error(token: str) -> None:
    with pytest.raises(ValueError, match="not a page cursor"):
        Cursor.decode(token)
