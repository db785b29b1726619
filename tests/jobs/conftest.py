"""Fixtures for background-job tests: settings and a job context on the test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.jobs import dispatch
from leadbridge.jobs.runner import make_context
from leadbridge.jobs.steps import JobContext


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, broker_url=None, connections={})


@pytest.fixture
def ctx(settings: Settings, database: Database) -> JobContext:
    return make_context(settings, database=database)


@pytest.fixture(autouse=True)
def _restore_dispatcher() -> Iterator[None]:
    previous = dispatch.current()
    yield
    dispatch.install(previous)
