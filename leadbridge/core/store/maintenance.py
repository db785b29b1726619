"""Database maintenance: reclaim space and refresh the planner's statistics.

Rules:
- SQLite: the WAL is checkpointed and truncated, ``VACUUM`` rewrites the file without free pages
  (it needs about the file's size in free disk and holds the write lock meanwhile: run it when
  nothing writes), and ``ANALYZE`` refreshes the statistics the planner picks indexes by;
- PostgreSQL: ``VACUUM (ANALYZE)`` on every table — it runs beside readers and writers (autovacuum
  does the same in the background; after a bulk import the statistics lag, so run it then);
  ``--full`` rewrites tables (``VACUUM FULL``) and locks each one while it does;
- ``analyze_only`` skips the rewrite on both: the quick thing to do after a large import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine, text

from leadbridge.core.store.db import is_sqlite


@dataclass(frozen=True)
class Maintained:
    backend: str
    steps: list[str]
    seconds: float
    bytes_before: int | None
    bytes_after: int | None


def _size(engine: Engine) -> int | None:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar_one()
            size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            return int(pages) * int(size)
        if engine.dialect.name == "postgresql":
            return int(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
    return None


def maintain(engine: Engine, *, analyze_only: bool = False, full: bool = False) -> Maintained:
    """Run the maintenance the module rules describe for this engine's database."""
    started = time.perf_counter()
    before = _size(engine)
    steps: list[str] = []
    if is_sqlite(str(engine.url)):
        statements = ["PRAGMA wal_checkpoint(TRUNCATE)"]
        statements += [] if analyze_only else ["VACUUM"]
        statements += ["ANALYZE", "PRAGMA optimize"]
    else:
        statements = (
            ["ANALYZE"] if analyze_only else ["VACUUM (FULL, ANALYZE)" if full else "VACUUM (ANALYZE)"]
        )
    # VACUUM runs outside a transaction on both backends. SQLite: on the driver connection, which
    # leadbridge runs in autocommit (the engine's begin hook would open BEGIN IMMEDIATE).
    if is_sqlite(str(engine.url)):
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement in statements:
                cursor.execute(statement)
                cursor.fetchall()
                steps.append(statement)
            cursor.close()
        finally:
            raw.close()
    else:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
                steps.append(statement)
    return Maintained(engine.dialect.name, steps, time.perf_counter() - started, before, _size(engine))


def refresh_statistics(engine: Engine, tables: tuple[str, ...]) -> None:
    """PostgreSQL: ``ANALYZE`` these tables now (SQLite's planner needs no statistics to pick the
    unique indexes bulk paths look up by).

    A table that grew from empty within one long import still has the statistics of an empty
    table until autovacuum gets round to it; the planner then scans the whole table for each
    chunk's lookups (seconds per chunk at a few hundred thousand rows) instead of using the index.
    """
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"ANALYZE {', '.join(tables)}")
