"""Tables the sync engine adds (migration ``0003_sync``), sharing the store's declarative base."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadbridge.core.store.tables import Base


class SyncLinkRow(Base):
    """One remote record leadbridge keeps in step with a lead, and what each side last said.

    ``written`` holds the leadbridge-owned field values we last wrote there; ``seen`` the remote-owned
    values we last took in. A pulled record whose values equal these is our own echo.
    """

    __tablename__ = "sync_links"
    __table_args__ = (
        UniqueConstraint("connection", "remote_id", name="uq_sync_links_remote"),
        Index("ix_sync_links_lead", "lead_id", "connection"),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(100))
    remote_id: Mapped[str] = mapped_column(String(255))
    lead_id: Mapped[str] = mapped_column(String(40))
    partner_id: Mapped[str | None] = mapped_column(String(40))
    written: Mapped[dict[str, Any]]
    seen: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class PerformancePushRow(Base):
    """What leadbridge last queued and wrote of one partner's performance figures into one home CRM
    (``sync/performance_push.py``, migration ``0015``).

    ``digest`` is the hash of the figures last queued: the push step queues a write only when the
    figures it computes hash differently. ``outbox_id`` is that write's outbox row (its status and
    last error are the cockpit's), ``written_at`` when a write last landed.
    """

    __tablename__ = "performance_pushes"

    partner_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    target: Mapped[str] = mapped_column(String(100), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(100))
    digest: Mapped[str] = mapped_column(String(64))
    figures: Mapped[dict[str, Any]]
    outbox_id: Mapped[int | None]
    queued_at: Mapped[datetime]
    written_at: Mapped[datetime | None]
