"""Leaving no erased bytes in the database files.

Rules:
- SQLite: every connection runs with ``secure_delete`` (``core/store/db.py``), so space freed in the
  main file is zeroed; the write-ahead log still holds the old page images until it is written
  back, so after an erasure it is checkpointed and truncated to zero bytes. ``vacuum=True`` also
  rebuilds the file (slow on a big database; for a periodic clean-up, not every erasure);
- PostgreSQL: updated and deleted rows are dead tuples until vacuumed; the tables an erasure
  touches are vacuumed so their space is reclaimed (autovacuum would do it later anyway).
"""

from __future__ import annotations

from sqlalchemy import text

from leadbridge.core.store.database import Database

ERASURE_TABLES = ("leads", "lead_events", "offers", "outbox", "quarantine", "sync_links")


def purge_freed(database: Database, *, vacuum: bool = False) -> str:
    """Flush erased bytes out of the database files (module rules); what was done, for the report."""
    engine = database.engine
    if engine.dialect.name == "sqlite":
        # The raw connection runs outside any transaction (the engine begins its own; VACUUM and a
        # truncating checkpoint must not run inside one).
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            if vacuum:
                cursor.execute("VACUUM")
            busy = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            cursor.close()
        finally:
            raw.close()
        done = "sqlite: write-ahead log truncated" + (" after a vacuum" if vacuum else "")
        return (
            done
            if not busy
            else "sqlite: the write-ahead log is busy; it is truncated at the next checkpoint"
        )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for table in ERASURE_TABLES:
                connection.execute(text(f"VACUUM {table}"))
        return "postgresql: vacuumed " + ", ".join(ERASURE_TABLES)
    return "nothing to do"
