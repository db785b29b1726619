"""Accounts: admin users, partner users (one partner each, revocable) and API keys.

Rules: e-mail addresses are stored lower-case and are unique per kind of user; a revoked partner
user loses every session at once and can no longer sign in; an API key is shown once, at creation,
and only its hash is kept. A key with a partner acts as that partner; a key without one is an admin
key (creating leads and partners).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, NotFound
from leadbridge.core.model import new_id, utcnow
from leadbridge.core.roles import ADMIN_SCOPE, Role, Scope, parse_role
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.web_tables import AdminUserRow, ApiKeyRow, PartnerUserRow, WebSessionRow
from leadbridge.web.security import (
    DUMMY_HASH,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)

LANGUAGES = ("en", "de")


@dataclass(frozen=True)
class PartnerPrincipal:
    """Who is acting for a partner: a signed-in partner user or a partner system's API key."""

    partner_id: str
    partner_name: str
    user_id: str | None
    api_key_id: str | None
    language: str

    @property
    def actor(self) -> str:
        return f"partner_user:{self.user_id}" if self.user_id else f"api_key:{self.api_key_id}"


@dataclass(frozen=True)
class AdminPrincipal:
    user_id: str
    email: str
    scope: Scope = ADMIN_SCOPE  # role and regions (``core/roles.py``); the admin role unless stored otherwise

    @property
    def role(self) -> Role:
        return self.scope.role

    @property
    def actor(self) -> str:
        return f"admin:{self.email}"


def create_admin(
    session: Session,
    email: str,
    password: str,
    name: str | None = None,
    *,
    role: Role = Role.ADMIN,
    regions: tuple[str, ...] = (),
) -> AdminUserRow:
    email = email.strip().lower()
    if len(password) < 10:
        raise ValueError("an admin password needs at least 10 characters")
    check_scope(role, regions)
    if session.execute(select(AdminUserRow).where(AdminUserRow.email == email)).scalar_one_or_none():
        raise ConflictError(f"admin {email} already exists")
    row = AdminUserRow(
        id=new_id("A"),
        email=email,
        name=name,
        password_hash=hash_password(password),
        active=True,
        created_at=utcnow(),
        role=role.value,
        regions=",".join(regions),
    )
    session.add(row)
    session.flush()
    return row


def check_scope(role: Role, regions: tuple[str, ...]) -> None:
    """A channel manager needs regions; other roles have none (``ValueError`` says which)."""
    if role is Role.CHANNEL_MANAGER and not regions:
        raise ValueError("a channel manager needs at least one region (--region DE or DE-8)")
    if role is not Role.CHANNEL_MANAGER and regions:
        raise ValueError(f"regions apply to channel managers only, not to the {role.value} role")


def scope_of(row: AdminUserRow | ApiKeyRow) -> Scope:
    """The stored role and regions of an admin user or admin key."""
    regions = tuple(region for region in (row.regions or "").split(",") if region)
    return Scope(parse_role(row.role or "admin"), regions)


def set_admin_role(session: Session, email: str, role: Role, regions: tuple[str, ...] = ()) -> AdminUserRow:
    """Change an admin's role (and regions); its open sessions carry the new role at once."""
    check_scope(role, regions)
    row = session.execute(
        select(AdminUserRow).where(AdminUserRow.email == email.strip().lower())
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no admin {email}")
    row.role, row.regions = role.value, ",".join(regions)
    return row


def authenticate_admin(session: Session, email: str, password: str) -> AdminUserRow | None:
    row = session.execute(
        select(AdminUserRow).where(AdminUserRow.email == email.strip().lower())
    ).scalar_one_or_none()
    if row is None or not row.active:
        verify_password(password, DUMMY_HASH)  # one scrypt run, as for a real admin
        return None
    if not verify_password(password, row.password_hash):
        return None
    if needs_rehash(row.password_hash):
        row.password_hash = hash_password(password)  # upgrade to today's cost while we know it
    return row


def create_partner_user(
    session: Session, partner_id: str, email: str, *, name: str | None = None, language: str = "en"
) -> PartnerUserRow:
    """Add a user to a partner; an e-mail already used by another partner is a conflict."""
    if session.get(PartnerRow, partner_id) is None:
        raise NotFound(f"partner {partner_id} does not exist")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    email = email.strip().lower()
    existing = partner_user_by_email(session, email)
    if existing is not None:
        if existing.partner_id != partner_id:
            raise ConflictError(f"{email} already belongs to partner {existing.partner_id}")
        existing.revoked_at = None
        existing.language = language
        return existing
    row = PartnerUserRow(
        id=new_id("U"),
        partner_id=partner_id,
        email=email,
        name=name,
        language=language,
        created_at=utcnow(),
        revoked_at=None,
    )
    session.add(row)
    session.flush()
    return row


def partner_user_by_email(session: Session, email: str) -> PartnerUserRow | None:
    return session.execute(
        select(PartnerUserRow).where(PartnerUserRow.email == email.strip().lower())
    ).scalar_one_or_none()


def active_partner_user(session: Session, user_id: str) -> PartnerUserRow | None:
    """The user if it exists, is not revoked and its partner is active."""
    row = session.get(PartnerUserRow, user_id)
    if row is None or row.revoked_at is not None:
        return None
    partner = session.get(PartnerRow, row.partner_id)
    return row if partner is not None and partner.active else None


def revoke_partner_user(session: Session, email: str) -> PartnerUserRow:
    row = partner_user_by_email(session, email)
    if row is None:
        raise NotFound(f"no partner user {email}")
    row.revoked_at = utcnow()
    session.execute(
        delete(WebSessionRow).where(WebSessionRow.kind == "partner", WebSessionRow.user_id == row.id)
    )
    return row


def partner_principal(session: Session, user: PartnerUserRow) -> PartnerPrincipal:
    partner = session.get(PartnerRow, user.partner_id)
    name = partner.name if partner else user.partner_id
    return PartnerPrincipal(user.partner_id, name, user.id, None, user.language)


def create_api_key(
    session: Session,
    name: str,
    partner_id: str | None = None,
    *,
    role: Role = Role.ADMIN,
    regions: tuple[str, ...] = (),
) -> tuple[ApiKeyRow, str]:
    """A new key; returns the row and the raw key (shown once, never stored). An admin key (no
    partner) carries a role like an admin user; a partner key acts as its partner only."""
    if partner_id is not None and session.get(PartnerRow, partner_id) is None:
        raise NotFound(f"partner {partner_id} does not exist")
    if partner_id is not None and (role is not Role.ADMIN or regions):
        raise ValueError("a role applies to admin keys only; a partner key acts as its partner")
    check_scope(role, regions)
    raw = new_token("lbk_")
    row = ApiKeyRow(
        id=new_id("K"),
        key_hash=token_hash(raw),
        partner_id=partner_id,
        name=name,
        created_at=utcnow(),
        revoked_at=None,
        role=role.value,
        regions=",".join(regions),
    )
    session.add(row)
    session.flush()
    return row, raw


def api_key_for(session: Session, raw: str) -> ApiKeyRow | None:
    row = session.execute(select(ApiKeyRow).where(ApiKeyRow.key_hash == token_hash(raw))).scalar_one_or_none()
    return row if row is not None and row.revoked_at is None else None
