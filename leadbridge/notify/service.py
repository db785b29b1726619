"""Who gets which e-mail, and when it is sent: the notifier the router, SLA and digest jobs call.

Rules:
- an offer (or its reminder) goes to every active user of the offered partner, each in their own
  language with their own signed links, and only while the offer is pending;
- an escalation goes to every active admin;
- the daily digest goes to each active user of each active partner that has open offers or held
  leads, listing them with their next follow-up date; partners with nothing open get nothing.
Each call opens its own read transaction and sends one SMTP batch afterwards (no mail is sent
while a database transaction is open).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.inbox.preview import blind_preview
from leadbridge.connectors.inbox.views import held_leads, open_offers
from leadbridge.core.leads import LeadService
from leadbridge.core.model import utcnow
from leadbridge.core.reasons import ReasonCatalog
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OfferRow, PartnerRow
from leadbridge.core.store.web_tables import AdminUserRow, PartnerUserRow
from leadbridge.notify.mailer import Mailer
from leadbridge.notify.messages import (
    DigestLine,
    Material,
    Recipient,
    digest_mail,
    erasure_mail,
    escalation_mail,
    materials_for,
    offer_links,
    offer_mail,
    reclaim_mail,
)

REASONS = ReasonCatalog()


def _partner_users(session: Session, partner_id: str) -> list[Recipient]:
    rows = session.execute(
        select(PartnerUserRow)
        .where(PartnerUserRow.partner_id == partner_id, PartnerUserRow.revoked_at.is_(None))
        .order_by(PartnerUserRow.email)
    ).scalars()
    return [Recipient(r.email, r.language, r.id, r.name) for r in rows]


class Notifier:
    """Builds and sends leadbridge's e-mails (module rules)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        mailer: Mailer,
        *,
        materials: Mapping[str, Sequence[Material]] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.database, self.settings, self.mailer = database, settings, mailer
        self.materials = materials or {}
        self.clock = clock

    @property
    def base_url(self) -> str:
        return self.settings.public_url.rstrip("/")

    def offer(self, offer_id: str, *, reminder: bool = False) -> int:
        """Mail a pending offer (or a reminder about it) to the partner's users; returns mails sent."""
        secret = self.settings.signing_key()
        with self.database.transaction() as session:
            offer = session.get(OfferRow, offer_id)
            if offer is None or offer.status != "pending":
                return 0
            partner = session.get(PartnerRow, offer.partner_id)
            if partner is None or not partner.active:
                return 0
            lead = session.get(LeadRow, offer.lead_id)
            assert lead is not None  # foreign key
            preview = blind_preview(offer, lead.data)
            material = materials_for(preview, self.materials)
            now = self.clock()
            mails = [
                offer_mail(
                    user,
                    preview,
                    offer_links(secret, self.base_url, preview, user.user_id or "", now),
                    material,
                    reminder=reminder,
                )
                for user in _partner_users(session, offer.partner_id)
            ]
        return self._send(mails)

    def escalation(self, lead_id: str, reason: str) -> int:
        """Tell every active admin about an SLA breach on a lead."""
        with self.database.transaction() as session:
            row = LeadService(session).get_row(lead_id)
            partner = session.get(PartnerRow, row.partner_id) if row.partner_id else None
            lines = [
                f"lead {row.id} ({row.state})",
                f"reason: {reason}",
                f"partner: {partner.name if partner else '-'}",
            ]
            admins = session.execute(select(AdminUserRow).where(AdminUserRow.active.is_(True))).scalars()
            mails = [
                escalation_mail(Recipient(a.email), reason, lines, f"{self.base_url}/cockpit/leads/{row.id}")
                for a in admins
            ]
        return self._send(mails)

    def reclaimed(self, offer_id: str, reason_code: str) -> int:
        """Tell the partner's users that leadbridge took a lead back from them, and why."""
        with self.database.transaction() as session:
            offer = session.get(OfferRow, offer_id)
            lead = session.get(LeadRow, offer.lead_id) if offer is not None else None
            if offer is None or lead is None:
                return 0
            preview = blind_preview(offer, lead.data)
            mails = [
                reclaim_mail(
                    user, preview, REASONS.label(reason_code, user.language), f"{self.base_url}/inbox"
                )
                for user in _partner_users(session, offer.partner_id)
            ]
        return self._send(mails)

    def erasure_notice(self, lead_id: str, partner_id: str) -> int:
        """Tell the partner's users that a lead they were offered or held was erased (Art. 19)."""
        with self.database.transaction() as session:
            mails = [
                erasure_mail(user, lead_id, f"{self.base_url}/inbox")
                for user in _partner_users(session, partner_id)
            ]
        return self._send(mails)

    def daily_digest(self) -> int:
        """Each partner user's summary of open offers and held leads; returns mails sent."""
        mails: list[EmailMessage] = []
        with self.database.transaction() as session:
            partners = session.execute(select(PartnerRow.id).where(PartnerRow.active.is_(True))).scalars()
            for partner_id in list(partners):
                offers = open_offers(session, partner_id)
                leads = [
                    DigestLine(line.lead_id, line.label, line.state, _next_follow_up(session, line.lead_id))
                    for line in held_leads(session, partner_id)
                    if line.state in ("accepted", "working")
                ]
                if not offers and not leads:
                    continue
                mails += [
                    digest_mail(user, offers, leads, f"{self.base_url}/inbox")
                    for user in _partner_users(session, partner_id)
                ]
        return self._send(mails)

    def _send(self, mails: list[EmailMessage]) -> int:
        self.mailer.send_many(mails)
        return len(mails)


def _next_follow_up(session: Session, lead_id: str) -> str | None:
    for event in reversed(LeadService(session).events(lead_id)):
        if event.kind == "status":
            value = event.payload.get("next_follow_up")
            return str(value) if value else None
    return None
