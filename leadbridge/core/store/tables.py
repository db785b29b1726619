"""The database schema (SQLAlchemy 2 ORM). Alembic migrations in ``leadbridge/migrations`` build it.

Domain models (``core/model.py``) stay pydantic; rows hold their JSON plus the columns we filter,
join or lock on. The lead row is the *projection* of its event log, updated in the same
transaction as each appended event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from leadbridge.core.store.types import JsonType, UtcDateTime

# The open or held states (dedup compares new leads with these), as literal SQL: a partial index
# is used only when the query states the same condition the index was built with.
OPEN_STATE_NAMES = ("accepted", "offered", "qualified", "routing", "working")
OPEN_STATES = text(f"state IN ({', '.join(repr(name) for name in OPEN_STATE_NAMES)})")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JsonType}


class LeadRow(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source_connection", "external_id", name="uq_leads_source_external"),
        # Keyset orders (column, id) for the cockpit list (newest change first), the CLI list and
        # the router (oldest first); the state index serves the sweeps and state filters in order.
        Index("ix_leads_state_updated", "state", "updated_at", "id"),
        Index("ix_leads_updated", "updated_at", "id"),
        Index("ix_leads_created", "created_at", "id"),
        Index("ix_leads_campaign", "campaign", "updated_at", "id"),
        Index("ix_leads_region", "country", "postal_code"),
        Index("ix_leads_email", "email"),  # duplicate detection by person
        Index("ix_leads_partner_state", "partner_id", "state"),  # a partner's leads, counted by state
        Index("ix_leads_state_changed", "state", "state_changed_at"),  # the reconcile loop's grace
        Index("ix_leads_state_created", "state", "created_at", "id"),  # the router's waiting leads
        # dedup: a postal region's open leads, oldest first (``core/dedup.py``'s ACTIVE states)
        Index(
            "ix_leads_open_region",
            "country",
            "postal_code",
            "created_at",
            "id",
            postgresql_where=OPEN_STATES,
            sqlite_where=OPEN_STATES,
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source_connection: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(20))
    partner_id: Mapped[str | None] = mapped_column(String(40))
    round: Mapped[int] = mapped_column(Integer, default=0)
    email: Mapped[str | None] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(255))
    country: Mapped[str | None] = mapped_column(String(2))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    campaign: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # When ``state`` last changed (``updated_at`` moves on every event, a reminder included): how
    # long a lead has waited in its state, which a status or reminder must not reset.
    state_changed_at: Mapped[datetime | None]


class LeadEventRow(Base):
    __tablename__ = "lead_events"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_lead_events_idempotency_key"),
        UniqueConstraint("lead_id", "seq", name="uq_lead_events_lead_seq"),
        Index("ix_lead_events_kind_time", "kind", "occurred_at"),
        Index("ix_lead_events_partner", "partner_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(255))
    source_system: Mapped[str] = mapped_column(String(100))
    occurred_at: Mapped[datetime]
    idempotency_key: Mapped[str] = mapped_column(String(255))
    partner_id: Mapped[str | None] = mapped_column(String(40))
    offer_id: Mapped[str | None] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    # Never loaded or set: it only tells the unit of work that a new lead is inserted before its
    # events when several of both are flushed together (an autoflush inside an event batch of new
    # leads; without it the unit of work may insert an event before its lead).
    lead: Mapped[LeadRow] = relationship(lazy="raise", viewonly=False)


class PartnerRow(Base):
    __tablename__ = "partners"
    __table_args__ = (
        UniqueConstraint("external_id", name="uq_partners_external_id"),
        Index("ix_partners_name", "name", "id"),  # the cockpit's partner pages, by name
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool]
    connection: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OfferRow(Base):
    __tablename__ = "offers"
    __table_args__ = (
        Index("ix_offers_lead_status", "lead_id", "status"),  # a lead's offers; open ones (router)
        # a partner's offers by status, with the times its accept waits are read from (index only)
        Index("ix_offers_partner_waits", "partner_id", "status", "offered_at", "decided_at"),
        Index("ix_offers_status_deadline", "status", "deadline"),
        Index("ix_offers_offered", "offered_at"),  # reports read edge days and dirty days raw
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    lead_id: Mapped[str] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"))
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id"))
    round: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    offered_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    reason_code: Mapped[str | None] = mapped_column(String(60))
    comment: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[dict[str, Any] | None]


class OutboxRow(Base):
    """A change that must reach an external system; written in the same transaction as its event."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_target_status_due", "target", "status", "next_attempt_at"),
        Index("ix_outbox_status_due", "status", "next_attempt_at"),  # due rows of every target
        Index("ix_outbox_status_claimed", "status", "claimed_at"),  # stale claims
        Index("ix_outbox_lead", "lead_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    target: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(40))
    lead_id: Mapped[str | None] = mapped_column(String(40))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class TimerRow(Base):
    """A piece of periodic work and when it is next due (a connection's poll, the SLA tick), or a
    record of the last run (the reconcile sweep). The reconcile loop reads ``due_at``."""

    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_due", "due_at"),)

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    due_at: Mapped[datetime]
    last_run_at: Mapped[datetime | None]
    last_ok_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]]


class CheckpointRow(Base):
    """How far a pull from one connection's stream has read: a keyset ``(modstamp, id)``."""

    __tablename__ = "checkpoints"

    connection: Mapped[str] = mapped_column(String(100), primary_key=True)
    stream: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor_stamp: Mapped[str | None] = mapped_column(String(64))
    cursor_id: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]


class IntakeRow(Base):
    """Records already taken in: ``(connection, external id, modification stamp)`` is seen once."""

    __tablename__ = "intake_log"
    __table_args__ = (UniqueConstraint("connection", "external_id", "stamp", name="uq_intake_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    stamp: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime]


class QuarantineRow(Base):
    """A source record that could not be mapped or validated, kept with its reason until fixed."""

    __tablename__ = "quarantine"
    __table_args__ = (
        UniqueConstraint("connection", "external_id", name="uq_quarantine_record"),
        Index("ix_quarantine_open", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    connection: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    record: Mapped[dict[str, Any]]
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
