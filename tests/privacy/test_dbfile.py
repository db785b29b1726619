"""The SQLite file keeps no bytes of a deleted row: ``secure_delete`` zeroes freed space and the
write-ahead log is truncated after an erasure."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete

from leadbridge.core.privacy.dbfile import purge_freed
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import QuarantineRow


def test_given_a_deleted_row_when_the_file_is_purged_then_its_bytes_are_nowhere_in_the_files(
    sqlite_url: str,
) -> None:
    database = Database(sqlite_url)
    now = datetime.now(UTC)
    with database.transaction() as session:
        for n in range(30):  # other rows share the page, so the page stays and only the cell is freed
            record = {"Email": f"someone{n}@example.com", "note": "x" * 50}
            session.add(QuarantineRow(connection="home", external_id=f"r{n}", reason="bad", record=record,
                                      attempts=1, created_at=now, updated_at=now))  # fmt: skip
    purge_freed(database)  # the rows are in the main file now
    path = Path(database.engine.url.database or "")
    assert b"someone7@example.com" in path.read_bytes()
    with database.transaction() as session:
        session.execute(delete(QuarantineRow).where(QuarantineRow.external_id == "r7"))
    assert purge_freed(database) == "sqlite: write-ahead log truncated"
    assert b"someone7@example.com" not in path.read_bytes()
    assert b"someone8@example.com" in path.read_bytes()
    assert Path(f"{path}-wal").stat().st_size == 0


def test_every_sqlite_connection_turns_secure_delete_on(sqlite_url: str) -> None:
    # Many builds (Debian's) default to it; others (Python.org, macOS) do not, hence the pragma.
    with Database(sqlite_url).engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA secure_delete").scalar() == 1
