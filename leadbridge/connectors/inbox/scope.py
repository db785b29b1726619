"""Partner scoping: the one place that looks up an offer or lead *for a partner*.

Rule: a partner sees its own offers and the leads it holds, nothing else. Asking for anything else
— another partner's offer, a lead held by someone else, an id that does not exist — is the same
``NotFound`` (so ids cannot be probed), and a request for something that does exist is logged as a
warning naming the partner, the actor and the id.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.errors import NotFound
from leadbridge.core.store.tables import LeadRow, OfferRow

log = logging.getLogger("leadbridge.security")


def scoped_offer(session: Session, offer_id: str, partner_id: str, actor: str) -> OfferRow:
    row = session.execute(
        select(OfferRow).where(OfferRow.id == offer_id, OfferRow.partner_id == partner_id)
    ).scalar_one_or_none()
    if row is None:
        if session.get(OfferRow, offer_id) is not None:
            log.warning("partner %s (%s) denied offer %s of another partner", partner_id, actor, offer_id)
        raise NotFound(f"offer {offer_id} does not exist")
    return row


def held_lead(session: Session, lead_id: str, partner_id: str, actor: str) -> LeadRow:
    """The lead if ``partner_id`` holds it (accepted it and has not returned it)."""
    row = session.execute(
        select(LeadRow).where(LeadRow.id == lead_id, LeadRow.partner_id == partner_id)
    ).scalar_one_or_none()
    if row is None:
        if session.get(LeadRow, lead_id) is not None:
            log.warning("partner %s (%s) denied lead %s it does not hold", partner_id, actor, lead_id)
        raise NotFound(f"lead {lead_id} does not exist")
    return row
