"""Fixtures for background-job tests: settings, a runtime on the test database and its job context.

``database`` is the runtime's own: its sessions carry the runtime's kicks and projector, exactly as
in production, and nothing is attached process-wide.
"""

from __future__ import annotations

import pytest

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync.steps import JobContext


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, broker_url=None, connections={})


@pytest.fixture
def rt(settings: Settings) -> Runtime:
    return build_runtime(settings)


@pytest.fixture
def database(rt: Runtime) -> Database:
    return rt.db


@pytest.fixture
def ctx(rt: Runtime) -> JobContext:
    return rt.context()
