"""The application's handle on its database: engine, its own sessionmaker, transactions, the schema check.

Rules:
- each ``Database`` has its own ``sessionmaker``: session hooks (the event→outbox projector, the
  after-commit kicks) are attached to *that* sessionmaker by whoever composes the application
  (``leadbridge.runtime``), never to SQLAlchemy's ``Session`` class, so two runtimes in one process
  (two tests, a CLI command beside a web app) never see each other's hooks;
- ``session_info`` is copied into every session the sessionmaker opens (shallow): hooks that need
  per-runtime values at flush time (the dispatcher, bulk-insert listeners) find them there;
- the engine is shared per URL in the process (one pool), and disposed in a forked child so it
  never reuses its parent's connections (Celery's prefork pool).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from leadbridge.core.errors import ConfigError
from leadbridge.core.store import migrate
from leadbridge.core.store.db import engine_for


class Database:
    """One database by URL. ``transaction()`` is a unit of work that commits or rolls back whole."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session_info: dict[str, Any] = {}
        self._sessionmaker: sessionmaker[Session] | None = None

    @property
    def engine(self) -> Engine:
        return engine_for(self.url)

    @property
    def sessionmaker(self) -> sessionmaker[Session]:
        """This database's own session factory (hooks attach here; built on first use, no connection)."""
        if self._sessionmaker is None:
            self._sessionmaker = sessionmaker(
                bind=self.engine, expire_on_commit=False, info=self.session_info
            )
        return self._sessionmaker

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction: commit when the block ends normally, roll back when it raises."""
        session = self.sessionmaker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def upgrade(self) -> None:
        migrate.upgrade(self.url)

    def require_current(self) -> None:
        """Raise a ``ConfigError`` telling the user what to run when the schema is not at head."""
        current = migrate.current_revision(self.url)
        head = migrate.head_revision(self.url)
        if current != head:
            state = "has no leadbridge schema" if current is None else f"is at revision {current}"
            raise ConfigError(
                f"the database {self.safe_url} {state} (latest {head}): run `leadbridge db upgrade`"
            )

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        return self.engine.url.render_as_string(hide_password=True)
