"""Leases: at most one holder of a named piece of work (e.g. the poller of one connection) at a time.

Rules:
- ``lease(database, name)`` is a non-blocking try: it yields ``True`` to the one holder and ``False``
  to everyone else, who should skip the work (someone is already doing it);
- a lease dies with its holder: on PostgreSQL it is a session-level advisory lock on a dedicated
  connection, which the server drops the moment a killed worker's socket closes; on SQLite
  (embedded mode, one machine) it is an ``flock`` on a file beside the database, which the kernel
  drops when the process exits. No lease can outlive a SIGKILLed worker, so there is no expiry to
  tune and no stale lease to clean up.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from leadbridge.core.store.database import Database
from leadbridge.core.store.db import is_sqlite


def lease_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(f"leadbridge:{name}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def lease(database: Database, name: str) -> Iterator[bool]:
    """Try to hold the lease ``name`` for the block; yields whether this caller holds it."""
    if is_sqlite(database.url):
        with _file_lease(database, name) as held:
            yield held
    else:
        with _advisory_lease(database, name) as held:
            yield held


@contextmanager
def _advisory_lease(database: Database, name: str) -> Iterator[bool]:
    key = lease_key(name)
    # AUTOCOMMIT: holding the lock must not hold a transaction (and its snapshot) open as well.
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        held = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        try:
            yield held
        finally:
            if held:
                # Unlock before the connection returns to the pool, or the pool would keep the lease.
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def lock_dir(database: Database) -> Path:
    """Where SQLite-mode lease files live: ``<database file>.locks/``."""
    path = database.engine.url.database
    if not path or path == ":memory:":
        return Path(os.environ.get("TMPDIR", "/tmp")) / f"leadbridge-{os.getpid()}.locks"
    return Path(path).with_name(Path(path).name + ".locks")


@contextmanager
def _file_lease(database: Database, name: str) -> Iterator[bool]:
    folder = lock_dir(database)
    folder.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    fd = os.open(folder / f"{safe}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            held = True
        except BlockingIOError:
            held = False
        try:
            yield held
        finally:
            if held:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
