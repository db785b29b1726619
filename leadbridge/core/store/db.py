"""Engines and sessions for SQLite (WAL, the embedded default) and PostgreSQL.

Rules: SQLite runs in WAL mode with foreign keys on and a busy timeout, so the web app, the
scheduler and CLI commands can share one file; with ``secure_delete`` on, so bytes a deletion or an
update frees are overwritten with zeros (an erased person is not left in the file's free space);
every unit of work is one transaction (``session_scope``) that commits or rolls back as a whole.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # 64 MB of page cache per connection (SQLite's default is 2 MB): at a million leads the
    # indexes no longer fit the default, and every insert or lookup then waits on the file.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # pysqlite's default deferred BEGIN lets two writers both read, then one fails on upgrade to a
    # write lock ("database is locked"); BEGIN IMMEDIATE serialises writers up front instead.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with leadbridge's connection settings."""
    if is_sqlite(url):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)

        @event.listens_for(engine, "connect")
        def _no_pysqlite_transactions(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves

        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One shared engine per URL for the life of the process."""
    return make_engine(url)


@lru_cache(maxsize=8)
def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Cached: each sessionmaker() builds a Session subclass, and every class-level event listener
    # (the sync projector's before_flush) is re-propagated to it — ~3 ms per transaction otherwise.
    return sessionmaker(bind=engine, expire_on_commit=False, future=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit when the block ends normally, roll back when it raises."""
    session = session_factory(engine)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
