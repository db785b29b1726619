"""Partner contacts become inbox users: a partner on the hosted inbox gets a user for each contact
e-mail it lists, invited by a sign-in mail.

Rules:
- only active partners whose connection is ``inbox`` (a partner with its own CRM works there); a
  ``partners import`` invites for every such partner, a partner saved through the API
  (``PUT /api/v1/partners``) for itself;
- a contact whose address is already a user of this partner is left alone (a revoked one stays
  revoked: an admin revoked it); an address that belongs to another partner is skipped and reported;
- each new user gets one mail with a single-use sign-in link (the sign-in page sends fresh ones);
  mail goes out after the transaction commits, and a mail failure does not undo the users.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy import select

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import PartnerRow
from leadbridge.notify.mailer import Mailer
from leadbridge.notify.messages import Recipient, signin_mail
from leadbridge.web.accounts import LANGUAGES, create_partner_user, partner_user_by_email
from leadbridge.web.sessions import issue_magic_link


@dataclass
class Invitations:
    invited: list[str] = field(default_factory=list)  # e-mail addresses of new users
    skipped: list[str] = field(default_factory=list)  # "address: why"
    mail_error: str | None = None  # the users exist; they can ask the sign-in page for a link


def invite_contacts(
    database: Database, settings: Settings, mailer: Mailer, *, partner_ids: Collection[str] | None = None
) -> Invitations:
    """Create and invite the inbox users the partners' contacts call for (module rules); only
    those of ``partner_ids`` when given (a partner saved through the API)."""
    found = Invitations()
    mails = []
    with database.transaction() as session:
        query = select(PartnerRow).where(PartnerRow.connection == "inbox", PartnerRow.active.is_(True))
        if partner_ids is not None:
            query = query.where(PartnerRow.id.in_(sorted(partner_ids)))
        partners = session.execute(query).scalars()
        for partner in list(partners):
            for contact in partner.data.get("contacts") or []:
                address = str(contact.get("email") or "").strip().lower()
                if not address:
                    continue
                existing = partner_user_by_email(session, address)
                if existing is not None:
                    if existing.partner_id != partner.id:
                        found.skipped.append(f"{address}: already a user of another partner")
                    continue
                language = contact.get("language") if contact.get("language") in LANGUAGES else "en"
                user = create_partner_user(
                    session, partner.id, address, name=contact.get("name"), language=language
                )
                url = f"{settings.public_url.rstrip('/')}/inbox/signin/{issue_magic_link(session, user)}"
                mails.append(signin_mail(Recipient(user.email, user.language, user.id, user.name), url))
                found.invited.append(address)
    if mails:
        try:
            mailer.send_many(mails)
        except LeadbridgeError as error:
            found.mail_error = str(error)
    return found
