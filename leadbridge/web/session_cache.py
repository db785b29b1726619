"""A per-process cache of signed-in partner sessions: an inbox request learns who is asking without
opening a database transaction of its own (a pool checkout, a ping, BEGIN, a join, COMMIT — about a
third of the database round trips of an inbox page).

Rules:
- an entry is keyed by the hash of its session token, so one browser's entry never answers for
  another's, and holds only the principal that token's own lookup found;
- an entry lives at most ``SESSION_CACHE_TTL`` (5 s) and never past the session's own expiry;
- in this process, every statement that could end or change a partner session — deleting web
  sessions (sign-out, a revoked user, a deactivated partner), changing a partner user (revocation,
  language) or a partner's name or active flag — empties the cache when it runs and again when its
  transaction commits, so a lookup racing the change cannot keep its stale answer past the commit;
- another server process (``run --workers N``) or a CLI command learns of such a change within
  ``SESSION_CACHE_TTL``: a user revoked there may see this process's pages for at most 5 s more;
- the cache holds at most ``SESSION_CACHE_SIZE`` entries; when full it starts again empty.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.web_tables import PartnerUserRow, WebSessionRow
from leadbridge.web.accounts import PartnerPrincipal

SESSION_CACHE_TTL = timedelta(seconds=5)
SESSION_CACHE_SIZE = 10_000
# Tables whose changes may end or alter a partner session (``partners``: name and active flag).
_WATCHED_TABLES = frozenset({"web_sessions", "partner_users", "partners"})
_DIRTY = "leadbridge.session_cache.dirty"


class PartnerSessionCache:
    """Principals of live partner sessions by token hash, for ``SESSION_CACHE_TTL`` (module rules)."""

    def __init__(self, clock: Callable[[], datetime] = utcnow, ttl: timedelta = SESSION_CACHE_TTL) -> None:
        self.clock, self.ttl = clock, ttl
        self._entries: dict[str, tuple[PartnerPrincipal, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> PartnerPrincipal | None:
        entry = self._entries.get(digest)
        if entry is None:
            return None
        principal, until = entry
        if until <= self.clock():
            self._entries.pop(digest, None)
            return None
        return principal

    def put(self, digest: str, principal: PartnerPrincipal, session_expires_at: datetime) -> None:
        until = min(self.clock() + self.ttl, session_expires_at)
        with self._lock:
            if len(self._entries) >= SESSION_CACHE_SIZE:
                self._entries.clear()
            self._entries[digest] = (principal, until)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def watch(self, factory: sessionmaker[Session]) -> None:
        """Empty the cache on every change to sessions, partner users or partners made through
        sessions of ``factory`` (at the statement and again at its commit)."""
        event.listen(factory, "do_orm_execute", self._on_execute)
        event.listen(factory, "before_flush", self._on_flush)
        event.listen(factory, "after_commit", self._on_commit)
        event.listen(factory, "after_rollback", self._on_rollback)

    def _changed(self, session: Session) -> None:
        session.info[_DIRTY] = True
        self.clear()

    def _on_execute(self, state: ORMExecuteState) -> None:
        if state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) in _WATCHED_TABLES:
                self._changed(state.session)

    def _on_flush(self, session: Session, context: Any, instances: Any) -> None:
        for obj in chain(session.dirty, session.deleted):
            if isinstance(obj, WebSessionRow) and obj in session.deleted:
                self._changed(session)
                return
            if isinstance(obj, PartnerUserRow):
                self._changed(session)
                return
            if isinstance(obj, PartnerRow):
                attrs = inspect(obj).attrs
                if obj in session.deleted or any(
                    attrs[name].history.has_changes() for name in ("active", "name")
                ):
                    self._changed(session)
                    return

    def _on_commit(self, session: Session) -> None:
        if session.info.pop(_DIRTY, False):
            self.clear()

    def _on_rollback(self, session: Session) -> None:
        session.info.pop(_DIRTY, None)
