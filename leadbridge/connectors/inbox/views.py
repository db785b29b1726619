"""What a partner reads in its inbox: open offers (blind), one offer, its leads, one lead in full."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from leadbridge.connectors.inbox.preview import BlindPreview, blind_preview
from leadbridge.connectors.inbox.scope import held_lead, scoped_offer
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import Consent, Lead, LeadEvent, OfferStatus
from leadbridge.core.privacy.personal import ERASED_MARK
from leadbridge.core.privacy.shares import lead_for_partner, partner_facts
from leadbridge.core.store.tables import LeadRow, OfferRow

ERASED = LeadState.ERASED.value


@dataclass(frozen=True)
class HeldLead:
    """A lead the partner holds: everything about it, and the history the partner may see."""

    lead: Lead
    state: str
    events: list[LeadEvent]
    offer_id: str | None

    @property
    def latest_status(self) -> dict[str, object]:
        """The most recent status payload (expected revenue, close date, next follow-up…)."""
        for event in reversed(self.events):
            if event.kind == "status":
                return event.payload
        return {}


# Built once (the inbox page runs both on every request; building a statement costs more than
# running it on SQLite).
_OPEN_OFFERS = (
    select(OfferRow, LeadRow.data)
    .join(LeadRow, LeadRow.id == OfferRow.lead_id)
    .where(OfferRow.partner_id == bindparam("partner_id"), OfferRow.status == OfferStatus.PENDING.value)
    .order_by(OfferRow.deadline.is_(None), OfferRow.deadline, OfferRow.offered_at)
)
_HELD_LEADS = (
    select(LeadRow.id, LeadRow.state, LeadRow.company, LeadRow.email, LeadRow.data)
    .where(LeadRow.partner_id == bindparam("partner_id"))
    .order_by(LeadRow.updated_at.desc())
)


def open_offers(session: Session, partner_id: str) -> list[BlindPreview]:
    """Pending offers of the partner, soonest deadline first, as blind previews."""
    rows = session.execute(_OPEN_OFFERS, {"partner_id": partner_id}).all()
    return [blind_preview(offer, data) for offer, data in rows]


def offer_preview(session: Session, offer_id: str, partner_id: str, actor: str) -> BlindPreview:
    offer = scoped_offer(session, offer_id, partner_id, actor)
    lead = session.get(LeadRow, offer.lead_id)
    assert lead is not None  # offers.lead_id is a foreign key
    return blind_preview(offer, lead.data)


@dataclass(frozen=True)
class HeldLeadLine:
    """One line of the partner's lead list."""

    lead_id: str
    state: str
    label: str
    identified: bool = True  # the label names the company or person (an audited view)


def held_leads(session: Session, partner_id: str) -> list[HeldLeadLine]:
    """The leads the partner holds, most recently changed first; a lead whose consent no longer
    covers the partner (or an erased one) is listed by its id, not its company or e-mail."""
    rows = session.execute(_HELD_LEADS, {"partner_id": partner_id}).all()
    facts = partner_facts(session, [partner_id]).get(partner_id)
    lines = []
    for lead_id, state, company, email, data in rows:
        if state == ERASED:
            lines.append(HeldLeadLine(lead_id, state, ERASED_MARK, identified=False))
            continue
        consent = Consent.model_validate((data or {}).get("consent") or {})
        if facts is None or not consent.effective.allows(facts):
            lines.append(HeldLeadLine(lead_id, state, lead_id, identified=False))
            continue
        lines.append(HeldLeadLine(lead_id, state, company or email or lead_id))
    return lines


def held_lead_detail(session: Session, lead_id: str, partner_id: str, actor: str) -> HeldLead:
    row = held_lead(session, lead_id, partner_id, actor)
    # Other partners' offers and declines are not this partner's business.
    events = [e for e in LeadService(session).events(lead_id) if e.partner_id in (None, partner_id)]
    offer_id = session.execute(
        select(OfferRow.id).where(
            OfferRow.lead_id == lead_id,
            OfferRow.partner_id == partner_id,
            OfferRow.status == OfferStatus.ACCEPTED.value,
        )
    ).scalar_one_or_none()
    facts = partner_facts(session, [partner_id]).get(partner_id)  # consent may have narrowed since
    lead = lead_for_partner(lead_from_row(row), facts)
    return HeldLead(lead=lead, state=row.state, events=events, offer_id=offer_id)
