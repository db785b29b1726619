"""The application's handle on its database: engine, transactions, and the schema check."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConfigError
from leadbridge.core.store import migrate
from leadbridge.core.store.db import engine_for, session_scope


class Database:
    """One database by URL. ``transaction()`` is a unit of work that commits or rolls back whole."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def engine(self) -> Engine:
        return engine_for(self.url)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with session_scope(self.engine) as session:
            yield session

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
