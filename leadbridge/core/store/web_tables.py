"""Tables of the web app: admin and partner users, magic links, sessions, API keys, rate limits.

They share ``leadbridge.core.store.tables.Base`` so one Alembic history (revision 0002) builds them.
Secrets (session tokens, magic-link tokens, API keys) are stored only as SHA-256 hashes: a copy of
the database never lets anyone sign in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadbridge.core.store.tables import Base


class AdminUserRow(Base):
    """A manufacturer's channel manager with a local account (scrypt-hashed password)."""

    __tablename__ = "admin_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool]
    created_at: Mapped[datetime]
    # admin | channel_manager | read_only (``core/roles.py``); regions "DE,AT-10" for a channel manager
    role: Mapped[str] = mapped_column(String(20), default="admin", server_default="admin")
    regions: Mapped[str] = mapped_column(String(500), default="", server_default="")


class PartnerUserRow(Base):
    """A person working for exactly one partner; revoking sets ``revoked_at`` and ends sessions."""

    __tablename__ = "partner_users"
    __table_args__ = (Index("ix_partner_users_partner", "partner_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(2))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class MagicLinkRow(Base):
    """A single-use, expiring sign-in link sent by e-mail; ``used_at`` is set on first use."""

    __tablename__ = "magic_links"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    partner_user_id: Mapped[str] = mapped_column(ForeignKey("partner_users.id", ondelete="CASCADE"))
    next_path: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WebSessionRow(Base):
    """A signed-in browser: ``kind`` is ``partner`` or ``admin``; the cookie holds the raw token."""

    __tablename__ = "web_sessions"
    __table_args__ = (Index("ix_web_sessions_user", "kind", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ApiKeyRow(Base):
    """A key for a partner system (scoped to ``partner_id``) or, with no partner, for admin tools."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    partner_id: Mapped[str | None] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    role: Mapped[str] = mapped_column(String(20), default="admin", server_default="admin")  # admin keys
    regions: Mapped[str] = mapped_column(String(500), default="", server_default="")


class RateLimitHitRow(Base):
    """One attempt in a rate-limited bucket (``login:<ip>``, ``magic:<email>``…), counted per window."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_bucket_time", "bucket", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime]
