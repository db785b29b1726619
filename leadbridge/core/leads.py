"""The lead service: append events to a lead's log and keep its projection in step.

Rules it enforces, all inside the caller's transaction:
- an event's ``idempotency_key`` is unique: re-applying a key returns the stored event and changes
  nothing (the same key on a different lead is a ``ConflictError``);
- the lifecycle table (``core/lifecycle.py``) decides the next state; anything else raises
  ``IllegalTransition`` naming the state and the event;
- a lead has at most one accepting partner: ``accept`` sets it, ``return`` clears it, and every
  partner action on a claimed lead must come from that partner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, IllegalTransition, NotFound
from leadbridge.core.event_batch import current_batch
from leadbridge.core.lifecycle import EventKind, LeadState, allowed_events, next_state
from leadbridge.core.model import Lead, LeadEvent, new_id, utcnow
from leadbridge.core.store.tables import LeadEventRow, LeadRow

Clock = Callable[[], datetime]

# Events a partner performs on a lead it holds: they must come from the accepting partner.
PARTNER_HOLDER_EVENTS = frozenset({EventKind.STATUS, EventKind.WIN, EventKind.LOSE, EventKind.RETURN})


@dataclass(frozen=True)
class Applied:
    """What ``apply`` did: the stored event, and whether it was new (False for a replayed key)."""

    event: LeadEvent
    created: bool


def event_from_row(row: LeadEventRow) -> LeadEvent:
    return LeadEvent(
        id=row.id,
        lead_id=row.lead_id,
        kind=row.kind,
        from_state=row.from_state,
        to_state=row.to_state,
        actor=row.actor,
        source_system=row.source_system,
        occurred_at=row.occurred_at,
        idempotency_key=row.idempotency_key,
        partner_id=row.partner_id,
        offer_id=row.offer_id,
        payload=row.payload or {},
    )


def lead_from_row(row: LeadRow) -> Lead:
    return Lead.from_stored(row.data)


def projection_columns(lead: Lead) -> dict[str, Any]:
    return {
        "email": lead.email,
        "company": lead.company,
        "country": lead.address.country,
        "postal_code": lead.address.postal_code,
        "campaign": lead.campaign,
    }


class LeadService:
    """Reads and changes leads through their event log (see the module docstring for the rules)."""

    def __init__(self, session: Session, clock: Clock = utcnow) -> None:
        self.session = session
        self.clock = clock

    # -- reading ---------------------------------------------------------------------------
    def get_row(self, lead_id: str, *, for_update: bool = False) -> LeadRow:
        batch = current_batch(self.session)
        if batch is not None and lead_id in batch.rows:  # loaded and locked when the batch opened
            return batch.rows[lead_id]
        query = select(LeadRow).where(LeadRow.id == lead_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound(f"lead {lead_id} does not exist")
        return row

    def find_by_external(self, connection: str, external_id: str) -> LeadRow | None:
        return self.session.execute(
            select(LeadRow).where(LeadRow.source_connection == connection, LeadRow.external_id == external_id)
        ).scalar_one_or_none()

    def events(self, lead_id: str) -> list[LeadEvent]:
        rows = self.session.execute(
            select(LeadEventRow).where(LeadEventRow.lead_id == lead_id).order_by(LeadEventRow.seq)
        ).scalars()
        return [event_from_row(row) for row in rows]

    def _existing_event(self, idempotency_key: str) -> LeadEventRow | None:
        batch = current_batch(self.session)
        if batch is not None:  # every key the batch does not know is presumed new (event_batch rules)
            return batch.events.get(idempotency_key)
        return self.session.execute(
            select(LeadEventRow).where(LeadEventRow.idempotency_key == idempotency_key)
        ).scalar_one_or_none()

    # -- writing ---------------------------------------------------------------------------
    def receive(
        self,
        lead: Lead,
        *,
        actor: str,
        source_system: str,
        idempotency_key: str,
        payload: dict[str, Any] | None = None,
    ) -> Applied:
        """Store a new lead in state ``received``; the same key again returns the first event."""
        existing = self._existing_event(idempotency_key)
        if existing is not None:
            return self._replayed(existing, lead.id)
        now = self.clock()
        row = LeadRow(
            id=lead.id,
            source_connection=lead.source_connection,
            external_id=lead.external_id,
            state=LeadState.RECEIVED.value,
            partner_id=None,
            round=0,
            data=lead.model_dump(mode="json"),
            version=0,
            created_at=now,
            updated_at=now,
            state_changed_at=now,
            **projection_columns(lead),
        )
        self.session.add(row)
        batch = current_batch(self.session)
        if batch is not None:
            batch.add_row(row)
        return self._append(
            row,
            EventKind.RECEIVE,
            None,
            LeadState.RECEIVED,
            actor=actor,
            source_system=source_system,
            idempotency_key=idempotency_key,
            payload=payload or {},
            at=now,
        )

    def update_data(
        self,
        lead_id: str,
        lead: Lead,
        *,
        actor: str,
        source_system: str,
        idempotency_key: str,
        changed: dict[str, Any],
    ) -> Applied:
        """Replace the lead's data (a newer version from its source); logged as an ``update`` event."""
        existing = self._existing_event(idempotency_key)
        if existing is not None:
            return self._replayed(existing, lead_id)
        row = self.get_row(lead_id, for_update=True)
        row.data = lead.model_dump(mode="json")
        for column, value in projection_columns(lead).items():
            setattr(row, column, value)
        return self.apply(
            lead_id,
            EventKind.UPDATE,
            actor=actor,
            source_system=source_system,
            idempotency_key=idempotency_key,
            payload={"changed": changed},
            row=row,
        )

    def apply(
        self,
        lead_id: str,
        kind: EventKind,
        *,
        actor: str,
        source_system: str = "leadbridge",
        idempotency_key: str,
        partner_id: str | None = None,
        offer_id: str | None = None,
        payload: dict[str, Any] | None = None,
        at: datetime | None = None,
        row: LeadRow | None = None,
    ) -> Applied:
        """Append ``kind`` to the lead's log and move its state per the lifecycle table."""
        existing = self._existing_event(idempotency_key)
        if existing is not None:
            return self._replayed(existing, lead_id)
        row = row or self.get_row(lead_id, for_update=True)
        current = LeadState(row.state)
        target = next_state(current, kind)
        if target is None:
            raise IllegalTransition(
                lead_id, current.value, kind.value, [e.value for e in allowed_events(current)]
            )
        self._check_claim(row, kind, partner_id)
        if kind is EventKind.ACCEPT:
            row.partner_id = partner_id
        elif kind is EventKind.RETURN:
            row.partner_id = None
        elif kind is EventKind.ROUTE or kind is EventKind.REROUTE:
            row.round += 1
        return self._append(
            row,
            kind,
            current,
            target,
            actor=actor,
            source_system=source_system,
            idempotency_key=idempotency_key,
            partner_id=partner_id,
            offer_id=offer_id,
            payload=payload or {},
            at=at or self.clock(),
        )

    def _check_claim(self, row: LeadRow, kind: EventKind, partner_id: str | None) -> None:
        if kind is EventKind.ACCEPT:
            if partner_id is None:
                raise ConflictError(f"lead {row.id}: accept needs the accepting partner")
            if row.partner_id is not None:
                raise ConflictError(f"lead {row.id} is already accepted by partner {row.partner_id}")
        elif kind in PARTNER_HOLDER_EVENTS and partner_id is not None and partner_id != row.partner_id:
            raise ConflictError(f"lead {row.id} is not held by partner {partner_id}")

    def _append(
        self,
        row: LeadRow,
        kind: EventKind,
        from_state: LeadState | None,
        to_state: LeadState,
        *,
        actor: str,
        source_system: str,
        idempotency_key: str,
        payload: dict[str, Any],
        at: datetime,
        partner_id: str | None = None,
        offer_id: str | None = None,
    ) -> Applied:
        if row.state != to_state.value:
            row.state_changed_at = at
        row.state = to_state.value
        row.version = (row.version or 0) + 1
        row.updated_at = at
        # The lead's version counts its events, so it is the event's sequence number (no MAX query).
        seq = row.version
        event_row = LeadEventRow(
            id=new_id("E"),
            lead_id=row.id,
            seq=seq,
            kind=kind.value,
            from_state=from_state.value if from_state else None,
            to_state=to_state.value,
            actor=actor,
            source_system=source_system,
            occurred_at=at,
            idempotency_key=idempotency_key,
            partner_id=partner_id,
            offer_id=offer_id,
            payload=payload,
        )
        batch = current_batch(self.session)
        if batch is not None:  # flushed once with the whole batch (event_batch rules)
            self.session.add(event_row)
            batch.add_event(event_row)
            return Applied(event_from_row(event_row), created=True)
        try:
            with self.session.begin_nested():
                self.session.add(event_row)
                self.session.flush()
        except IntegrityError:
            # A concurrent writer stored the same key between our check and insert.
            existing = self._existing_event(idempotency_key)
            if existing is None:
                raise
            return self._replayed(existing, row.id)
        return Applied(event_from_row(event_row), created=True)

    @staticmethod
    def _replayed(existing: LeadEventRow, lead_id: str) -> Applied:
        if existing.lead_id != lead_id:
            raise ConflictError(
                f"idempotency key {existing.idempotency_key!r} already used for lead {existing.lead_id}"
            )
        return Applied(event_from_row(existing), created=False)
