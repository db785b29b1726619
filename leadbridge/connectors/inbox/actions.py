"""Partner actions on offers and held leads; each is one lead event in the caller's transaction.

Write-back is not this module's business: the sync projector (``core/sync/projector.py``, installed
by ``create_app``) queues the outbox rows for every new event in the same flush.

Rules:
- every action is scoped to one partner (``scope.py``): another partner's offer or lead is
  ``NotFound``;
- accept/claim and decline need a pending offer whose deadline has not passed (else
  ``ConflictError``); the first accept wins and withdraws the others (``OfferService``);
- work on a lead (status, contact attempt, note, win, loss, return, rating) needs the partner to
  hold it; the lifecycle decides which are legal in the lead's state;
- reason codes are checked against the reason catalog for their kind;
- a return leaves the lead ``returned``; the router (``core/router.py``) moves it on per the
  policy's ``returns`` map and the reason catalog (re-route, nurture or close);
- ``request_id`` makes an action idempotent: the same id again replays the first result.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from leadbridge.connectors.inbox.inputs import (
    ContactInput,
    DeclineInput,
    LoseInput,
    NoteInput,
    RatingInput,
    ReturnInput,
    StatusInput,
    WinInput,
)
from leadbridge.connectors.inbox.scope import held_lead, scoped_offer
from leadbridge.core.errors import ConflictError
from leadbridge.core.leads import Clock, LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import LeadEvent, new_id, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.policy import POOL_MODES, Policy
from leadbridge.core.pool import PartnerPool
from leadbridge.core.reasons import ReasonCatalog, ReasonKind

INBOX_SYSTEM = "inbox"


class PartnerInbox:
    """The actions of one partner, acting as ``actor``, inside the caller's transaction."""

    def __init__(
        self,
        session: Session,
        partner_id: str,
        actor: str,
        *,
        reasons: ReasonCatalog | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self.session = session
        self.partner_id = partner_id
        self.actor = actor
        self.reasons = reasons or ReasonCatalog()
        self.clock = clock
        self.offers = OfferService(session, clock)
        self.leads = LeadService(session, clock)

    # -- offers ----------------------------------------------------------------------------
    def accept(self, offer_id: str, *, policy: Policy | None = None) -> LeadEvent:
        """Accept a pending offer; a pool listing is claimed under the pool's rules (first claim
        wins, the partner's limits, the policy's claim style) when the caller passes the policy."""
        row = scoped_offer(self.session, offer_id, self.partner_id, self.actor)
        if policy is not None and row.mode in POOL_MODES:
            pool = PartnerPool(self.session, self.partner_id, self.actor, policy, self.clock, INBOX_SYSTEM)
            return pool.claim(row.lead_id)
        self._open_offer(offer_id)
        applied = self.offers.accept(
            offer_id, actor=self.actor, source_system=INBOX_SYSTEM, partner_id=self.partner_id
        )
        return applied.event

    def decline(self, offer_id: str, data: DeclineInput) -> LeadEvent:
        self.reasons.get(data.reason_code, ReasonKind.DECLINE)
        self._open_offer(offer_id)
        applied = self.offers.decline(
            offer_id,
            reason_code=data.reason_code,
            comment=data.comment,
            actor=self.actor,
            source_system=INBOX_SYSTEM,
            partner_id=self.partner_id,
        )
        return applied.event

    def _open_offer(self, offer_id: str) -> None:
        row = scoped_offer(self.session, offer_id, self.partner_id, self.actor)
        if row.status == "pending" and row.deadline is not None and row.deadline <= self.clock():
            raise ConflictError(f"offer {offer_id} expired at {row.deadline:%Y-%m-%d %H:%M} UTC")

    # -- work on a held lead ---------------------------------------------------------------
    def update_status(self, lead_id: str, data: StatusInput, request_id: str | None = None) -> LeadEvent:
        return self._lead_event(lead_id, EventKind.STATUS, data.model_dump(mode="json"), request_id)

    def log_contact(self, lead_id: str, data: ContactInput, request_id: str | None = None) -> LeadEvent:
        payload = {"type": "contact_attempt", **data.model_dump(mode="json")}
        return self._lead_event(lead_id, EventKind.NOTE, payload, request_id)

    def add_note(self, lead_id: str, data: NoteInput, request_id: str | None = None) -> LeadEvent:
        return self._lead_event(lead_id, EventKind.NOTE, {"type": "note", "text": data.text}, request_id)

    def rate(self, lead_id: str, data: RatingInput, request_id: str | None = None) -> LeadEvent:
        payload = {"type": "rating", **data.model_dump(mode="json")}
        return self._lead_event(lead_id, EventKind.NOTE, payload, request_id)

    def win(self, lead_id: str, data: WinInput, request_id: str | None = None) -> LeadEvent:
        payload = {"result": "won", **data.model_dump(mode="json")}
        return self._lead_event(lead_id, EventKind.WIN, payload, request_id)

    def lose(self, lead_id: str, data: LoseInput, request_id: str | None = None) -> LeadEvent:
        self.reasons.get(data.reason_code, ReasonKind.LOST)
        payload = {"result": "lost", **data.model_dump(mode="json")}
        return self._lead_event(lead_id, EventKind.LOSE, payload, request_id)

    def return_lead(self, lead_id: str, data: ReturnInput, request_id: str | None = None) -> LeadEvent:
        """Give a held lead back; the router then re-routes, nurtures or closes it per the reason."""
        self.reasons.get(data.reason_code, ReasonKind.RETURN)
        held_lead(self.session, lead_id, self.partner_id, self.actor)
        applied = self.offers.return_lead(
            lead_id,
            partner_id=self.partner_id,
            reason_code=data.reason_code,
            comment=data.comment,
            actor=self.actor,
            source_system=INBOX_SYSTEM,
            idempotency_key=self._key(request_id),
        )
        return applied.event

    def _lead_event(
        self, lead_id: str, kind: EventKind, payload: dict[str, Any], request_id: str | None
    ) -> LeadEvent:
        held_lead(self.session, lead_id, self.partner_id, self.actor)
        applied = self.leads.apply(
            lead_id,
            kind,
            actor=self.actor,
            source_system=INBOX_SYSTEM,
            idempotency_key=self._key(request_id),
            partner_id=self.partner_id,
            payload=payload,
        )
        return applied.event

    def _key(self, request_id: str | None) -> str:
        return f"inbox:{self.partner_id}:{request_id or new_id('R')}"
