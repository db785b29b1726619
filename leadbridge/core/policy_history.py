"""Policy revisions: every routing policy that was used or adopted, by content hash — who, when.

Rules:
- a revision is identified by the policy's content hash (``policy.policy_hash``); it stores the
  whole policy (its JSON), its name, when it was first recorded, by whom and from which file;
- the router records the policy of every pass (``by`` = "router") — once: a hash already known is
  left as it is, so the first sighting's who/when stays; ``leadbridge policy record --by NAME``
  records the configured policy under a person's name, and ``leadbridge tune --out`` the policy it
  wrote. Two processes recording one hash at once keep the first (the other is ignored);
- every decision carries the hash, so each offer points at the revision that routed it;
- a revision is found by its hash or any unambiguous prefix of at least 4 characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from leadbridge.core.errors import ConfigError
from leadbridge.core.policy import Policy, parse_policy, policy_hash
from leadbridge.core.store.tables import Base


class PolicyRevisionRow(Base):
    """One recorded policy revision (module rules)."""

    __tablename__ = "policy_revisions"
    __table_args__ = (Index("ix_policy_revisions_at", "recorded_at"),)

    hash: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    recorded_at: Mapped[datetime]
    recorded_by: Mapped[str] = mapped_column(String(255))
    source: Mapped[str | None] = mapped_column(String(1000))
    content: Mapped[dict[str, Any]]


@dataclass(frozen=True)
class Revision:
    hash: str
    name: str
    recorded_at: datetime
    recorded_by: str
    source: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hash": self.hash,
            "name": self.name,
            "recorded_at": self.recorded_at.isoformat(),
            "recorded_by": self.recorded_by,
            "source": self.source,
        }


def _revision(row: PolicyRevisionRow) -> Revision:
    return Revision(row.hash, row.name, row.recorded_at, row.recorded_by, row.source)


def record(
    session: Session, policy: Policy, *, by: str, at: datetime, source: str | None = None
) -> tuple[Revision, bool]:
    """Store ``policy`` as a revision unless its hash is known; returns it and whether it is new."""
    key = policy_hash(policy)
    found = session.get(PolicyRevisionRow, key)
    if found is not None:
        return _revision(found), False
    row = PolicyRevisionRow(
        hash=key,
        name=policy.name,
        recorded_at=at,
        recorded_by=by,
        source=source,
        content=policy.model_dump(mode="json"),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # another process recorded the same hash first: keep theirs
        existing = session.get(PolicyRevisionRow, key)
        assert existing is not None
        return _revision(existing), False
    return _revision(row), True


def history(session: Session) -> list[Revision]:
    """Every revision, newest first."""
    query = select(PolicyRevisionRow).order_by(PolicyRevisionRow.recorded_at.desc(), PolicyRevisionRow.hash)
    return [_revision(row) for row in session.execute(query).scalars()]


def find(session: Session, ref: str) -> Policy:
    """The stored policy whose hash is ``ref`` or starts with it (``ConfigError`` otherwise)."""
    ref = ref.strip().lower()
    if len(ref) < 4:
        raise ConfigError(f"policy revision {ref!r}: give at least 4 characters of its hash")
    rows = list(
        session.execute(select(PolicyRevisionRow).where(PolicyRevisionRow.hash.startswith(ref))).scalars()
    )
    if not rows:
        raise ConfigError(f"no policy revision {ref} (leadbridge policy history lists them)")
    if len(rows) > 1:
        raise ConfigError(f"policy revision {ref} is ambiguous: {', '.join(sorted(r.hash for r in rows))}")
    return parse_policy(rows[0].content, f"policy revision {rows[0].hash}")
