"""A per-process cache of signed-in partner sessions: an inbox request learns who is asking without
opening a database transaction of its own (a pool checkout, a ping, BEGIN, a join, COMMIT — about a
third of the database round trips of an inbox page).

Rules:
- an entry is keyed by the hash of its session token, so one browser's entry never answers for
  another's, and holds only the principal that token's own lookup found;
- an entry lives at most ``SESSION_CACHE_TTL`` (5 s) and never past the session's own expiry;
- in this process, every statement that could end or change a partner session — deleting or
  changing web sessions (sign-out, a revoked user, a deactivated partner, expiry), changing a partner
  user (revocation, language) or a partner's name or active flag — empties the cache when it runs
  and again when its transaction commits, so a lookup racing the change cannot keep its stale
  answer past the commit (watched on the engine, whoever in the process sends the statement);
- another process (another server of ``run --workers N``, a CLI command in a shell) is not seen:
  a user revoked there may see this process's pages for at most ``SESSION_CACHE_TTL`` more;
- the cache holds at most ``SESSION_CACHE_SIZE`` entries; when full it starts again empty.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, event

from leadbridge.core.model import utcnow
from leadbridge.web.accounts import PartnerPrincipal

SESSION_CACHE_TTL = timedelta(seconds=5)
SESSION_CACHE_SIZE = 10_000
# Tables whose changes may end or alter a partner session (``partners``: name and active flag).
_WATCHED_TABLES = frozenset({"web_sessions", "partner_users", "partners"})
_DIRTY = "leadbridge.session_cache.dirty"
_WRITE = re.compile(r'\s*(?:UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)
_PARTNER_FIELDS = re.compile(r'\b(?:active|name)"?\s*=', re.IGNORECASE)


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

    def watch(self, engine: Engine) -> None:
        """Empty the cache on every statement through ``engine`` that changes sessions, partner users
        or a partner's name or active flag — at the statement and again at its commit. The engine is
        shared per database URL in the process, so changes by a CLI command or a job run in this
        process count too."""
        event.listen(engine, "before_cursor_execute", self._on_statement)
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "rollback", self._on_rollback)

    def _on_statement(
        self, conn: Connection, cursor: Any, statement: str, params: Any, context: Any, many: bool
    ) -> None:
        found = _WRITE.match(statement)
        if found is None or found.group(1).lower() not in _WATCHED_TABLES:
            return
        if found.group(1).lower() == "partners" and not _PARTNER_FIELDS.search(statement):
            return  # a partner's other columns (stats, settings) do not touch its sessions
        conn.info[_DIRTY] = True
        self.clear()

    def _on_commit(self, conn: Connection) -> None:
        if conn.info.pop(_DIRTY, False):
            self.clear()

    def _on_rollback(self, conn: Connection) -> None:
        conn.info.pop(_DIRTY, None)
