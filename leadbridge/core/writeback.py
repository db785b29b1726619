"""Write-back: a lead event that must reach the home CRM becomes one outbox row.

Rule: the row is written in the caller's transaction, so the event and its write-back commit or
roll back together; its idempotency key is derived from the event id, so enqueueing the same event
twice leaves one row. The sync engine (``core/sync``) owns flushing the outbox.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.model import LeadEvent, utcnow
from leadbridge.core.store.tables import OutboxRow

HOME_TARGET = "home"


def enqueue_writeback(session: Session, lead_id: str, event: LeadEvent) -> OutboxRow:
    """Queue ``event`` for the home CRM (kind ``lead_status``); idempotent per event."""
    key = f"wb:{event.id}"
    existing = session.execute(select(OutboxRow).where(OutboxRow.idempotency_key == key)).scalar_one_or_none()
    if existing is not None:
        return existing
    now = utcnow()
    row = OutboxRow(
        target=HOME_TARGET,
        kind="lead_status",
        lead_id=lead_id,
        idempotency_key=key,
        payload={
            "event_id": event.id,
            "kind": event.kind,
            "to_state": event.to_state,
            "partner_id": event.partner_id,
            "offer_id": event.offer_id,
            "occurred_at": event.occurred_at.isoformat(),
            "payload": event.payload,
        },
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row
