"""``leadbridge db vacuum``: space freed by deleted rows comes back; statistics are refreshed."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, text

from leadbridge.core.store.database import Database
from leadbridge.core.store.maintenance import maintain
from leadbridge.core.store.tables import LeadRow

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def test_given_deleted_leads_when_vacuumed_then_the_database_shrinks_and_is_analyzed(
    database: Database,
) -> None:
    rows = [
        {
            "id": f"L-{n}",
            "source_connection": "t",
            "external_id": f"X-{n}",
            "state": "won",
            "round": 0,
            "data": {"filler": "x" * 2000},
            "version": 0,
            "created_at": NOW,
            "updated_at": NOW,
        }
        for n in range(2000)
    ]
    with database.transaction() as session:
        session.execute(insert(LeadRow), rows)
    with database.transaction() as session:
        session.execute(delete(LeadRow))
    done = maintain(database.engine)
    assert done.bytes_before is not None and done.bytes_after is not None
    with database.engine.connect() as conn:
        if done.backend == "sqlite":
            assert "VACUUM" in done.steps
            assert done.bytes_after < done.bytes_before / 2  # the freed pages went back
            assert conn.execute(text("SELECT count(*) FROM sqlite_stat1")).scalar_one() > 0
        else:
            assert done.steps == ["VACUUM (ANALYZE)"]
            analyzed = conn.execute(
                text("SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'leads'")
            ).scalar_one()
            assert analyzed
    quick = maintain(database.engine, analyze_only=True)
    assert "VACUUM" not in quick.steps and "VACUUM (ANALYZE)" not in quick.steps
