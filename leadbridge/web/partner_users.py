"""A partner's inbox users as admins and the partner itself manage them: list, invite, remove.

Rules:
- every call names the partner it acts for and touches only that partner's users: removing a user
  of another partner is ``NotFound`` (the same answer as for an unknown id, so ids leak nothing);
- inviting an address that belongs to another partner is a ``ConflictError`` (``create_partner_user``);
  inviting a removed user of this partner restores it; each invitation mails a single-use sign-in
  link after the transaction commits — a mail failure keeps the user (the sign-in page sends links);
- a partner user cannot remove itself (it would lock its company out mid-session by accident);
- removing ends the user's sessions at once (``revoke_partner_user``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, LeadbridgeError, NotFound
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.web_tables import PartnerUserRow
from leadbridge.notify.mailer import Mailer
from leadbridge.notify.messages import Recipient, signin_mail
from leadbridge.web.accounts import LANGUAGES, create_partner_user, revoke_partner_user
from leadbridge.web.sessions import issue_magic_link


@dataclass(frozen=True)
class UserLine:
    id: str
    email: str
    name: str | None
    language: str
    revoked_at: datetime | None


def users_of(session: Session, partner_id: str) -> list[UserLine]:
    """The partner's users, active first, by e-mail."""
    rows = session.execute(
        select(PartnerUserRow).where(PartnerUserRow.partner_id == partner_id).order_by(PartnerUserRow.email)
    ).scalars()
    lines = [UserLine(r.id, r.email, r.name, r.language, r.revoked_at) for r in rows]
    return sorted(lines, key=lambda line: line.revoked_at is not None)


def checked_email(value: str) -> str:
    """A deliverable-looking address, lower-cased; ``ValueError`` with the reason otherwise."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        raise ValueError(f"e-mail {value.strip()!r}: {error}") from None


def invite_user(
    database: Database,
    settings: Settings,
    mailer: Mailer,
    partner_id: str,
    email: str,
    *,
    name: str | None = None,
    language: str = "en",
) -> str | None:
    """Add (or restore) a user of ``partner_id`` and mail a sign-in link; returns a mail error if any."""
    address = checked_email(email)
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}")
    with database.transaction() as session:
        user = create_partner_user(session, partner_id, address, name=name or None, language=language)
        url = f"{settings.public_url.rstrip('/')}/inbox/signin/{issue_magic_link(session, user)}"
        mail = signin_mail(Recipient(user.email, user.language, user.id, user.name), url)
    try:
        mailer.send_many([mail])
    except LeadbridgeError as error:
        return str(error)
    return None


def remove_user(session: Session, partner_id: str, user_id: str, *, acting_user: str | None = None) -> str:
    """Revoke ``user_id`` if it belongs to ``partner_id``; returns its e-mail address."""
    row = session.get(PartnerUserRow, user_id)
    if row is None or row.partner_id != partner_id:
        raise NotFound(f"no user {user_id} at this partner")
    if acting_user is not None and user_id == acting_user:
        raise ConflictError("you cannot remove yourself; ask a colleague or the channel manager")
    revoke_partner_user(session, row.email)
    return row.email
