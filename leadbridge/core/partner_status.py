"""A partner's status in its own CRM → offer and lead events.

Rules (``Status`` of the partner's copy of the lead, case-insensitive):
- ``Accepted`` / ``Working…`` / ``Qualified`` claim the lead (accept the pending offer); a
  ``Working…`` status on a claimed lead is a ``status`` event;
- ``Declined`` declines the pending offer (reason from the reason field, else ``no_fit``);
- ``Returned`` gives a claimed lead back (the router then follows the reason's ``on_return``:
  re-route, nurture or close);
- ``Closed - Converted`` / ``Won`` is a win (amount, close date); ``Closed - Not Converted`` /
  ``Lost`` a loss (reason) — claiming first when the partner skipped the accept step;
- ``Unqualified`` on a pending offer declines it (reason given, else ``no_fit``) and the lead
  goes back to routing; on a lead the partner holds it is a loss (reason given, else ``no_fit``);
- ``Postponed`` likewise: a decline (else ``no_capacity``) or a loss (else ``postponed``);
- anything else (``Open - Not Contacted``…) changes nothing.

Connectors whose mapping has an *explicit accept* (``PartnerStatus.explicit_accept``: HubSpot
contacts, ``CONNECTED``) are stricter — only ``accepted`` claims the lead (and so reveals the
identity); on an offer the partner has not accepted:
- working / won / lost / returned on a pending offer change nothing (they wait for the accept).

Each event's idempotency key derives from ``(connection, record id, SystemModstamp, step)``, so
reading the same version again is a no-op. A status that contradicts the lead's facts (the offer
was withdrawn, another partner holds the lead) is recorded as a ``conflict`` event — leadbridge's
state wins and the withdrawal is pushed to the partner again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, IllegalTransition
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import CLAIMED_STATES, EventKind, LeadState
from leadbridge.core.model import OfferStatus
from leadbridge.core.offers import OfferService
from leadbridge.core.reasons import ReasonCatalog, ReasonKind
from leadbridge.core.store.tables import OfferRow

E = EventKind
CLAIM = ("accepted", "qualified", "claimed")
WON = ("closed - converted", "won", "closed won")
LOST = ("closed - not converted", "lost", "closed lost")
# Strict-accept meanings that decline an offer or lose a held lead: (decline default, loss default).
_UNFIT = {"unqualified": ("no_fit", "no_fit"), "postponed": ("no_capacity", "postponed")}


@dataclass(frozen=True)
class PartnerStatus:
    """The partner-owned facts read from its CRM."""

    lead_id: str
    status: str | None
    meaning: str | None = None  # the mapping's reading of the status (won, lost, contacted…), if any
    reason: str | None = None
    amount: str | None = None
    close_date: str | None = None
    next_follow_up: str | None = None
    explicit_accept: bool = False  # only ``accepted`` claims (module rules); set by the connector


def _classify(status: str) -> str:
    text = status.strip().lower()
    if text in WON:
        return "won"
    if text in LOST:
        return "lost"
    if text == "declined":
        return "declined"
    if text == "returned":
        return "returned"
    if text.startswith(("working", "contacted", "meeting", "proposal")):
        return "working"
    if text in CLAIM:
        return "accepted"
    if text in ("unqualified", "postponed"):
        return text
    return "none"


def apply_partner_status(
    session: Session,
    update: PartnerStatus,
    *,
    partner_id: str,
    key: str,
    source: str,
    reasons: ReasonCatalog | None = None,
) -> list[str]:
    """Apply one partner status per the module rules; returns the event kinds newly appended."""
    if not update.status:
        return []
    meaning = _classify(update.meaning or "")
    if meaning == "none":
        meaning = _classify(update.status)
    if meaning == "none":
        return []
    offers, leads = OfferService(session), LeadService(session)
    done: list[str] = []
    actor = f"partner:{partner_id}"
    try:
        lead = leads.get_row(update.lead_id)
        if meaning == "declined" or (meaning in _UNFIT and lead.partner_id != partner_id):
            return _decline(
                session, update, meaning, partner_id=partner_id, key=key, source=source, reasons=reasons
            )
        if update.explicit_accept and meaning != "accepted" and lead.partner_id != partner_id:
            if _pending_offer(session, update.lead_id, partner_id) is not None:
                return []  # never a claim without the explicit accept: the offer stays pending, blind
            raise ConflictError(f"partner {partner_id} set {update.status!r}, but does not hold the lead")
        if lead.partner_id != partner_id and LeadState(lead.state) not in CLAIMED_STATES:
            offer = _pending_offer(session, update.lead_id, partner_id)
            if offer is None:
                raise ConflictError(
                    f"partner {partner_id} set {update.status!r}, but its offer is not pending"
                )
            if offers.accept(
                offer.id, actor=actor, source_system=source, idempotency_key=f"{key}:accept"
            ).created:
                done.append(E.ACCEPT.value)
        elif lead.partner_id != partner_id:
            raise ConflictError(f"lead {lead.id} is held by another partner")
        done += _after_claim(
            session, update, meaning, partner_id=partner_id, key=key, source=source, reasons=reasons
        )
    except (ConflictError, IllegalTransition) as error:
        applied = leads.apply(
            update.lead_id,
            E.CONFLICT,
            actor=actor,
            source_system=source,
            idempotency_key=f"{key}:conflict",
            partner_id=partner_id,
            payload={"field": "Status", "theirs": update.status, "winner": "leadbridge", "why": str(error)},
        )
        return [E.CONFLICT.value] if applied.created else []
    return done


def _after_claim(
    session: Session,
    update: PartnerStatus,
    meaning: str,
    *,
    partner_id: str,
    key: str,
    source: str,
    reasons: ReasonCatalog | None,
) -> list[str]:
    leads = LeadService(session)
    actor = f"partner:{partner_id}"
    state = LeadState(leads.get_row(update.lead_id).state)

    def apply(kind: EventKind, step: str, payload: dict[str, str | None]) -> list[str]:
        applied = leads.apply(
            update.lead_id,
            kind,
            actor=actor,
            source_system=source,
            partner_id=partner_id,
            idempotency_key=f"{key}:{step}",
            payload=payload,
        )
        return [kind.value] if applied.created else []

    claimed = state in (LeadState.ACCEPTED, LeadState.WORKING)
    if meaning == "working" and claimed:
        return apply(E.STATUS, "status", {"status": update.status, "next_follow_up": update.next_follow_up})
    if meaning == "won" and claimed:
        return apply(E.WIN, "win", {"amount": update.amount, "close_date": update.close_date})
    if meaning in _UNFIT and claimed:
        reason = _reason(reasons, update.reason, ReasonKind.LOST, _UNFIT[meaning][1])
        return apply(E.LOSE, "lose", {"reason_code": reason, "close_date": update.close_date})
    if meaning == "lost" and claimed:
        reason = _reason(reasons, update.reason, ReasonKind.LOST, "lost_to_competitor")
        return apply(E.LOSE, "lose", {"reason_code": reason, "close_date": update.close_date})
    if meaning == "returned" and claimed:
        return _return(session, update, partner_id=partner_id, key=key, source=source, reasons=reasons)
    return []


def _decline(
    session: Session,
    update: PartnerStatus,
    meaning: str,
    *,
    partner_id: str,
    key: str,
    source: str,
    reasons: ReasonCatalog | None,
) -> list[str]:
    """Decline this partner's pending offer; ``ConflictError`` if it has none."""
    offer = _pending_offer(session, update.lead_id, partner_id)
    if offer is None:
        raise ConflictError(f"partner {partner_id} declined ({update.status!r}), but it has no pending offer")
    default = _UNFIT.get(meaning, ("no_fit", ""))[0]
    applied = OfferService(session).decline(
        offer.id,
        reason_code=_reason(reasons, update.reason, ReasonKind.DECLINE, default),
        actor=f"partner:{partner_id}",
        source_system=source,
        idempotency_key=f"{key}:decline",
    )
    return [E.DECLINE.value] if applied.created else []


def _return(
    session: Session,
    update: PartnerStatus,
    *,
    partner_id: str,
    key: str,
    source: str,
    reasons: ReasonCatalog | None,
) -> list[str]:
    catalog = reasons or ReasonCatalog()
    code = _reason(catalog, update.reason, ReasonKind.RETURN, "no_fit")
    applied = OfferService(session).return_lead(
        update.lead_id,
        partner_id=partner_id,
        reason_code=code,
        actor=f"partner:{partner_id}",
        source_system=source,
        idempotency_key=f"{key}:return",
    )
    return [E.RETURN.value] if applied.created else []


def _reason(catalog: ReasonCatalog | None, given: str | None, kind: ReasonKind, default: str) -> str:
    codes = (catalog or ReasonCatalog()).codes(kind)
    text = (given or "").strip().lower().replace(" ", "_")
    return text if text in codes else default


def _pending_offer(session: Session, lead_id: str, partner_id: str) -> OfferRow | None:
    return (
        session.execute(
            select(OfferRow)
            .where(
                OfferRow.lead_id == lead_id,
                OfferRow.partner_id == partner_id,
                OfferRow.status == OfferStatus.PENDING.value,
            )
            .order_by(OfferRow.offered_at.desc())
        )
        .scalars()
        .first()
    )
