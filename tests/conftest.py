"""Shared fixtures: a migrated database on SQLite and (where reachable) PostgreSQL.

PostgreSQL tests use ``LEADBRIDGE_TEST_DATABASE_URL`` (default: the local server's ``test``
database) to create a throw-away database per test run. Locally, an unreachable server skips those
tests with a visible notice; under CI (``CI=true``) it is an error, so CI can never go green by
skipping them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from leadbridge.core.store.database import Database
from leadbridge.core.store.db import engine_for
from leadbridge.core.store.tables import Base

PG_ADMIN_URL = os.environ.get(
    "LEADBRIDGE_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("LEADBRIDGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

_pg_skip_reason: str | None = None


def _pg_admin_url() -> str:
    url = PG_ADMIN_URL
    return "postgresql+psycopg://" + url[len("postgresql://") :] if url.startswith("postgresql://") else url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head; dropped afterwards."""
    global _pg_skip_reason
    # NullPool: no admin connection is kept between CREATE and DROP, so a PostgreSQL restart in
    # the middle of the run (the scaled liveness test does one) cannot leave a dead one behind.
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"leadbridge_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as error:
        admin.dispose()
        if IN_CI:
            raise RuntimeError(
                f"PostgreSQL is required in CI but unreachable at {PG_ADMIN_URL}: {error}"
            ) from error
        _pg_skip_reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}"
        pytest.skip(_pg_skip_reason)
    url = sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    Database(url).upgrade()
    yield url
    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


def _truncate(url: str) -> None:
    engine = engine_for(url)
    names = [table.name for table in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if url.startswith("postgresql"):
            existing = set(sa.inspect(conn).get_table_names())
            present = [f'"{n}"' for n in names if n in existing]
            if present:
                conn.exec_driver_sql(f"TRUNCATE {', '.join(present)} RESTART IDENTITY CASCADE")
        else:
            for name in names:
                conn.exec_driver_sql(f'DELETE FROM "{name}"')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'leadbridge.db'}"
    Database(url).upgrade()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'leadbridge.db'}"
        Database(url).upgrade()
        return url
    url: str = request.getfixturevalue("postgres_url")
    _truncate(url)
    return url


@pytest.fixture
def database(db_url: str) -> Database:
    return Database(db_url)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _pg_skip_reason:
        terminalreporter.write_sep("!", f"NOTICE: PostgreSQL tests skipped: {_pg_skip_reason}", yellow=True)
