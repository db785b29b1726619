"""Consent changes (GDPR Art. 7(3)): a narrower scope withdraws the lead from partners it no longer covers.

Rules, in the caller's transaction:
- the lead's consent is replaced and a ``consent`` event records the new scope (described, no
  personal data) and the partners it was withdrawn from: those the old scope covered and the new one
  does not, among the partners that were offered or hold the lead;
- their pending offers are withdrawn (reason ``consent_withdrawn``); a lead left without a pending
  offer is routed again by the sweep, within the new scope;
- a holder the new scope does not cover, per the policy's ``privacy.consent_withdrawal``: ``keep``
  leaves its copy alone (its inbox and API views are blind from now on anyway); ``anonymise`` has its
  CRM copy anonymised and it keeps the claim, blind; ``delete`` has its CRM copy deleted and the lead
  returns to routing (reason ``consent_withdrawn``). The CRM writes are queued by the projector
  from the ``consent`` event (``how`` and ``withdrawn_from``);
- a consent that covers as much as before or more only records the event;
- a withdrawal that arrives with a new version of the lead from its source (the manufacturer CRM, a
  webhook, an import, the API) follows the same policy: the runtime attaches a reader of the
  policy's ``consent_withdrawal`` to its database (``attach``), and intake asks it
  (``source_withdrawal``); a database without one, or a policy that cannot be read, anonymises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.lifecycle import CLAIMED_STATES, EventKind, LeadState
from leadbridge.core.model import Consent, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.privacy.consent import ConsentScope, withdrawn_from
from leadbridge.core.privacy.shares import partner_facts
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OfferRow

REASON = "consent_withdrawn"
DEFAULT_HOW = "anonymise"  # the holder keeps the claim, blind; its CRM copy loses the identity
_READER = "leadbridge_consent_withdrawal"
log = logging.getLogger(__name__)


def attach(database: Database, reader: Callable[[], str]) -> None:
    """Let intake on ``database`` read the policy's ``consent_withdrawal`` through ``reader``
    (called at each withdrawal, so a changed policy file counts at once)."""
    database.session_info[_READER] = reader


def source_withdrawal(session: Session) -> str:
    """What a withdrawal from the lead's source does to holders (module rules)."""
    reader = session.info.get(_READER)
    if reader is None:
        return DEFAULT_HOW
    try:
        return str(reader())
    except LeadbridgeError as error:
        log.warning("consent withdrawal policy unreadable, anonymising: %s", error)
        return DEFAULT_HOW


def change_consent(
    session: Session, lead_id: str, consent: Consent, *, actor: str, how: str, now: datetime | None = None
) -> list[str]:
    """Apply ``consent`` to the lead (module rules); the partner ids it was withdrawn from."""
    at = now or utcnow()
    service = LeadService(session, lambda: at)
    row = service.get_row(lead_id, for_update=True)
    if row.state == LeadState.ERASED.value:
        return []
    lead = lead_from_row(row)
    before, after = lead.consent.effective, consent.effective
    offered = set(session.execute(select(OfferRow.partner_id).where(OfferRow.lead_id == lead_id)).scalars())
    facts = partner_facts(session, offered | ({row.partner_id} if row.partner_id else set()))
    gone = withdrawn_from(before, after, facts.values())
    row.data = {**row.data, "consent": consent.model_dump(mode="json")}
    holder = row.partner_id if row.partner_id in gone and LeadState(row.state) in CLAIMED_STATES else None
    service.apply(
        lead_id,
        EventKind.CONSENT,
        actor=actor,
        idempotency_key=f"consent:{lead_id}:{row.version}",
        partner_id=holder,
        payload={
            "scope": after.describe(),
            "withdrawn_from": gone,
            "holder": holder,
            "how": how if holder else "withdraw",
        },
        row=row,
    )
    offers = OfferService(session, lambda: at)
    for offer in offers.pending_for_lead(lead_id):
        if offer.partner_id in gone:
            offers.withdraw(offer.id, actor=actor, reason=REASON)
    if (
        holder is not None
        and how == "delete"
        and row.state in (LeadState.ACCEPTED.value, LeadState.WORKING.value)
    ):
        offers.return_lead(lead_id, partner_id=holder, reason_code=REASON, actor=actor)
    return gone


def set_scope(
    session: Session, lead_id: str, scope: ConsentScope, *, actor: str, how: str, now: datetime
) -> list[str]:
    """``change_consent`` with only the scope replaced (the flag follows it: shared unless ``none``)."""
    lead = lead_from_row(LeadService(session).get_row(lead_id))
    consent = lead.consent.model_copy(update={"scope": scope, "share_with_partners": scope.share != "none"})
    return change_consent(session, lead_id, consent, actor=actor, how=how, now=now)
