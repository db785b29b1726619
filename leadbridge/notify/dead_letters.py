"""Mail that could not be sent, kept as dead letters in the outbox (target ``mail``).

Rules:
- a mail event whose message cannot be built or is refused for good becomes one outbox row
  ``target=mail`` with status ``dead``, the event's ids in its payload and the error as
  ``last_error``: the cockpit's dead-letter page lists it and its *Retry* makes it ``pending``;
- the mail step (``dispatch.send_due``) re-sends pending mail rows itself — the outbox flusher
  never sees them (``MAIL_TARGET`` is not a connection) — and marks each ``sent`` or ``dead`` again;
- one row per event (idempotency key ``mail:<event id>``): failing again updates it, never adds one;
- mail that must go out once whatever happens to the event log — an erasure notice to an inbox
  partner (``sync/erasure.py``) — is queued as a ``pending`` row of the same shape from the start
  (``queue``): the mail step sends it, and a failure makes it a dead letter like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow

MAIL_TARGET = "mail"


@dataclass(frozen=True)
class MailEvent:
    """What one mail-worthy lead event asks for (enough to build its mail again)."""

    event_id: str
    kind: str
    lead_id: str | None
    offer_id: str | None
    reason: str
    partner_id: str | None = None  # whose users are told (an erasure notice names no offer)

    def payload(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "kind": self.kind,
            "lead_id": self.lead_id,
            "offer_id": self.offer_id,
            "reason": self.reason,
            "partner_id": self.partner_id,
        }

    @classmethod
    def of(cls, payload: dict[str, Any]) -> MailEvent:
        return cls(
            str(payload.get("event_id") or ""),
            str(payload.get("kind") or ""),
            payload.get("lead_id"),
            payload.get("offer_id"),
            str(payload.get("reason") or ""),
            payload.get("partner_id"),
        )


def dead_letter(database: Database, event: MailEvent, error: str) -> None:
    """Record ``event``'s mail as dead with ``error`` (module rules)."""
    now = utcnow()
    key = f"mail:{event.event_id}"
    with database.transaction() as session:
        row = session.execute(select(OutboxRow).where(OutboxRow.idempotency_key == key)).scalar_one_or_none()
        if row is None:
            session.add(_mail_row(event, now, status="dead", attempts=1, last_error=error[:2000]))
        else:
            row.status, row.last_error, row.claimed_by = "dead", error[:2000], None
            row.attempts += 1


def queue(session: Session, event: MailEvent, now: datetime) -> None:
    """Queue ``event``'s mail as a pending row in the caller's transaction (once per event)."""
    key = f"mail:{event.event_id}"
    if session.execute(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)).first() is None:
        session.add(_mail_row(event, now, status="pending", attempts=0))


def _mail_row(
    event: MailEvent, now: datetime, *, status: str, attempts: int, last_error: str | None = None
) -> OutboxRow:
    """The outbox row of ``event``'s mail, keyed ``mail:<event id>`` (one per event)."""
    return OutboxRow(
        target=MAIL_TARGET,
        kind=event.kind,
        lead_id=event.lead_id,
        idempotency_key=f"mail:{event.event_id}",
        payload=event.payload(),
        status=status,
        attempts=attempts,
        next_attempt_at=now,
        last_error=last_error,
        created_at=now,
    )


def claim_retried(database: Database, worker: str, limit: int = 100) -> list[tuple[int, MailEvent]]:
    """Pending mail rows (an admin pressed *Retry*), each claimed by one conditional update."""
    now = utcnow()
    claimed: list[tuple[int, MailEvent]] = []
    with database.transaction() as session:
        rows = session.execute(
            select(OutboxRow.id, OutboxRow.payload)
            .where(OutboxRow.target == MAIL_TARGET, OutboxRow.status == "pending")
            .order_by(OutboxRow.id)
            .limit(limit)
        ).all()
        for row_id, payload in rows:
            taken = session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row_id, OutboxRow.status == "pending")
                .values(status="claimed", claimed_by=worker, claimed_at=now)
            )
            if getattr(taken, "rowcount", 0) == 1:
                claimed.append((row_id, MailEvent.of(payload)))
    return claimed


def mark_sent(database: Database, row_id: int) -> None:
    with database.transaction() as session:
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == row_id)
            .values(
                status="sent",
                sent_at=utcnow(),
                attempts=OutboxRow.attempts + 1,
                last_error=None,
                claimed_by=None,
            )
        )
