"""Historic leads: a manufacturer's closed leads (won or lost by a partner) imported as history.

Rules:
- a historic lead is taken in like any lead, then its past is appended to its log at the dates it
  happened: route → offer → accept → win | lose, with the partner that held it; a nurture lead is
  qualified first (the lifecycle has no shortcut, so the log stays a valid history);
- the offer is stored ``accepted`` with mode ``history`` and its offered/accepted dates, so the
  partner statistics (acceptance, speed, win rate) count it like any other — that is the point of
  importing history;
- every historic event (intake's too) carries ``payload.history = true``: it is never routed (the
  lead ends won or lost), never written back nor pushed to a partner (the sync projector skips it);
- idempotency keys are ``history:<lead id>:<kind>``, so re-importing the file changes nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy.orm import Session

from leadbridge.core.errors import IllegalTransition
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState, allowed_events, next_state
from leadbridge.core.model import OfferStatus, OutcomeResult, new_id
from leadbridge.core.store.tables import LeadRow, OfferRow

HISTORY_MODE = "history"
HISTORY_ACTOR = "history-import"


class History(BaseModel):
    """A closed lead's past: who held it, when it was offered/accepted/closed, and how it ended."""

    model_config = ConfigDict(extra="forbid")

    partner: str = Field(description="the partner's id or external id")
    outcome: OutcomeResult
    closed_at: datetime
    received_at: datetime | None = None
    offered_at: datetime | None = None
    accepted_at: datetime | None = None
    amount: Decimal | None = Field(default=None, ge=0)
    currency: str = "EUR"
    lost_reason: str | None = None

    @field_validator("received_at", "offered_at", "accepted_at", "closed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """A date or time without a zone is UTC."""
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    @field_validator("lost_reason", "partner")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None

    @model_validator(mode="after")
    def _in_order(self) -> History:
        """Dates must not run backwards (received ≤ offered ≤ accepted ≤ closed)."""
        stamps = [
            (name, value)
            for name, value in (
                ("received_at", self.received_at),
                ("offered_at", self.offered_at),
                ("accepted_at", self.accepted_at),
                ("closed_at", self.closed_at),
            )
            if value is not None
        ]
        for (earlier, a), (later, b) in pairwise(stamps):
            if a > b:
                raise ValueError(f"{later} is before {earlier}")
        return self

    @property
    def started_at(self) -> datetime:
        """When the lead came in: the earliest date known."""
        return self.received_at or self.offered_at or self.accepted_at or self.closed_at


def record_history(session: Session, row: LeadRow, history: History, partner_id: str) -> None:
    """Append the lead's past per the module rules (inside the caller's transaction or batch)."""
    service = LeadService(session)
    offered = history.offered_at or history.accepted_at or history.closed_at
    accepted = history.accepted_at or offered
    offer_id = new_id("O")

    def append(
        kind: EventKind,
        at: datetime,
        *,
        partner: str | None = None,
        offer: str | None = None,
        **payload: object,
    ) -> None:
        service.apply(
            row.id,
            kind,
            actor=HISTORY_ACTOR,
            source_system=row.source_connection,
            idempotency_key=f"history:{row.id}:{kind.value}",
            partner_id=partner,
            offer_id=offer,
            payload={"history": True, **payload},
            at=at,
            row=row,
        )

    if row.state == LeadState.NURTURE.value:
        append(EventKind.QUALIFY, history.started_at)
    append(EventKind.ROUTE, offered)
    append(EventKind.OFFER, offered, partner=partner_id, offer=offer_id, mode=HISTORY_MODE)
    session.add(
        OfferRow(
            id=offer_id,
            lead_id=row.id,
            partner_id=partner_id,
            round=row.round,
            mode=HISTORY_MODE,
            status=OfferStatus.ACCEPTED.value,
            offered_at=offered,
            deadline=None,
            decided_at=history.accepted_at,  # unknown accept time: left out of the speed statistics
            reason_code=None,
            comment=None,
            decision=None,
        )
    )
    append(EventKind.ACCEPT, accepted, partner=partner_id, offer=offer_id)
    close_date = history.closed_at.date().isoformat()
    if history.outcome is OutcomeResult.WON:
        amount = str(history.amount) if history.amount is not None else None
        append(
            EventKind.WIN,
            history.closed_at,
            partner=partner_id,
            amount=amount,
            currency=history.currency,
            close_date=close_date,
        )
    else:
        append(
            EventKind.LOSE,
            history.closed_at,
            partner=partner_id,
            reason_code=history.lost_reason,
            close_date=close_date,
        )


def history_rows(
    lead_id: str, connection: str, state: LeadState, history: History, partner_id: str, *, seq: int
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, Any]]:
    """What ``record_history`` appends to a lead just taken in (in ``state``, its last event
    ``seq``), as plain rows for a bulk insert: the events, the offer, and the lead's columns after
    them (state, holder, round, version, times). The same rows, keys and payloads, without a session.
    """
    offered = history.offered_at or history.accepted_at or history.closed_at
    accepted = history.accepted_at or offered
    offer_id = new_id("O")
    events: list[dict[str, Any]] = []
    current = state

    def append(
        kind: EventKind, at: datetime, partner: str | None = None, offer: str | None = None, **payload: object
    ) -> None:
        nonlocal current
        target = next_state(current, kind)
        if target is None:  # the lifecycle table decides, as in LeadService.apply
            raise IllegalTransition(
                lead_id, current.value, kind.value, [e.value for e in allowed_events(current)]
            )
        events.append(
            {
                "id": new_id("E"),
                "lead_id": lead_id,
                "seq": seq + len(events) + 1,
                "kind": kind.value,
                "from_state": current.value,
                "to_state": target.value,
                "actor": HISTORY_ACTOR,
                "source_system": connection,
                "occurred_at": at,
                "idempotency_key": f"history:{lead_id}:{kind.value}",
                "partner_id": partner,
                "offer_id": offer,
                "payload": {"history": True, **payload},
            }
        )
        current = target

    if state == LeadState.NURTURE:
        append(EventKind.QUALIFY, history.started_at)
    append(EventKind.ROUTE, offered)
    append(EventKind.OFFER, offered, partner_id, offer_id, mode=HISTORY_MODE)
    append(EventKind.ACCEPT, accepted, partner_id, offer_id)
    close_date = history.closed_at.date().isoformat()
    if history.outcome is OutcomeResult.WON:
        amount = str(history.amount) if history.amount is not None else None
        append(
            EventKind.WIN,
            history.closed_at,
            partner_id,
            amount=amount,
            currency=history.currency,
            close_date=close_date,
        )
    else:
        append(
            EventKind.LOSE,
            history.closed_at,
            partner_id,
            reason_code=history.lost_reason,
            close_date=close_date,
        )
    offer = {
        "id": offer_id,
        "lead_id": lead_id,
        "partner_id": partner_id,
        "round": 1,
        "mode": HISTORY_MODE,
        "status": OfferStatus.ACCEPTED.value,
        "offered_at": offered,
        "deadline": None,
        "decided_at": history.accepted_at,
        "reason_code": None,
        "comment": None,
        "decision": None,
    }
    lead = {
        "state": current.value,
        "partner_id": partner_id,
        "round": 1,
        "version": seq + len(events),
        "updated_at": history.closed_at,
        "state_changed_at": history.closed_at,
    }
    return events, offer, lead
