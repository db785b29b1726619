"""Engines for SQLite (WAL, the embedded default) and PostgreSQL.

Rules: SQLite runs in WAL mode with foreign keys on and a busy timeout, so the web app, the
scheduler and CLI commands can share one file; with ``secure_delete`` on, so bytes a deletion or an
update frees are overwritten with zeros (an erased person is not left in the file's free space);
one engine (one pool) per URL per process, and a forked child (Celery's prefork pool) drops its
parent's pooled connections before it uses any: sharing a socket across processes corrupts both
sides' conversations.
"""

from __future__ import annotations

import os
import weakref
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine, event


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


_made: weakref.WeakSet[Engine] = weakref.WeakSet()  # every engine of the process, for the fork hook


@lru_cache(maxsize=8)
def engine_for(url: str) -> Engine:
    """One shared engine per URL for the life of the process."""
    engine = make_engine(url)
    _made.add(engine)
    return engine


def _dispose_after_fork() -> None:
    # close=False: the parent still owns those sockets; the child only forgets them and opens its own.
    for engine in list(_made):
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_dispose_after_fork)
