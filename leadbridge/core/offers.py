"""Offers: a lead put before one partner. Each offer change is also an event on the lead.

Rules:
- an offer is created only for a lead in ``routing`` or ``offered`` and moves the lead to ``offered``;
- only a pending offer can be accepted, declined, expired or withdrawn; deciding it twice with the
  same idempotency key is a no-op, with another key a ``ConflictError``;
- the first accept wins: accepting withdraws every other pending offer of the lead in the same
  transaction, so a lead never has two accepting partners;
- returning a lead closes the holder's accepted offer as ``returned``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConflictError, NotFound
from leadbridge.core.event_batch import current_batch
from leadbridge.core.leads import Applied, Clock, LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import Offer, OfferStatus, new_id, utcnow
from leadbridge.core.store.tables import OfferRow


def offer_from_row(row: OfferRow) -> Offer:
    return Offer(
        id=row.id,
        lead_id=row.lead_id,
        partner_id=row.partner_id,
        round=row.round,
        mode=row.mode,
        status=OfferStatus(row.status),
        offered_at=row.offered_at,
        deadline=row.deadline,
        decided_at=row.decided_at,
        reason_code=row.reason_code,
        comment=row.comment,
        decision=row.decision,
    )


class OfferService:
    """Creates and decides offers, keeping the lead's log and state in step (module rules)."""

    def __init__(self, session: Session, clock: Clock = utcnow) -> None:
        self.session = session
        self.clock = clock
        self.leads = LeadService(session, clock)

    def get_row(self, offer_id: str, *, partner_id: str | None = None, for_update: bool = False) -> OfferRow:
        """The offer; with ``partner_id`` only if it belongs to that partner (else ``NotFound``)."""
        query = select(OfferRow).where(OfferRow.id == offer_id)
        if partner_id is not None:
            query = query.where(OfferRow.partner_id == partner_id)
        if for_update:
            query = query.with_for_update()
        row = self.session.execute(query).scalar_one_or_none()
        if row is None:
            raise NotFound(f"offer {offer_id} does not exist")
        return row

    def for_lead(self, lead_id: str) -> list[Offer]:
        return self.for_leads([lead_id]).get(lead_id, [])

    def for_leads(self, lead_ids: list[str]) -> dict[str, list[Offer]]:
        """The offers of each of these leads (oldest first), in one query; leads without any left out."""
        rows = self.session.execute(
            select(OfferRow).where(OfferRow.lead_id.in_(lead_ids)).order_by(OfferRow.offered_at, OfferRow.id)
        ).scalars()
        found: dict[str, list[Offer]] = {}
        for row in rows:
            found.setdefault(row.lead_id, []).append(offer_from_row(row))
        return found

    def create(
        self,
        lead_id: str,
        partner_id: str,
        *,
        round: int,
        mode: str,
        deadline: datetime | None,
        decision: dict[str, Any] | None,
        actor: str = "router",
        idempotency_key: str | None = None,
    ) -> tuple[Offer, Applied]:
        """Offer the lead to a partner (lead: routing/offered → offered)."""
        key = idempotency_key or f"offer:{lead_id}:{round}:{partner_id}"
        now = self.clock()
        offer_id = new_id("O")
        applied = self.leads.apply(
            lead_id,
            EventKind.OFFER,
            actor=actor,
            idempotency_key=key,
            partner_id=partner_id,
            offer_id=offer_id,
            payload={"round": round, "mode": mode, "deadline": deadline.isoformat() if deadline else None},
        )
        if not applied.created:
            return offer_from_row(self.get_row(applied.event.offer_id or "")), applied
        row = OfferRow(
            id=offer_id,
            lead_id=lead_id,
            partner_id=partner_id,
            round=round,
            mode=mode,
            status=OfferStatus.PENDING.value,
            offered_at=now,
            deadline=deadline,
            decided_at=None,
            reason_code=None,
            comment=None,
            decision=decision,
        )
        self.session.add(row)
        if current_batch(self.session) is None:  # a batch flushes once, at its end
            self.session.flush()
        return offer_from_row(row), applied

    def _decide(
        self,
        offer_id: str,
        kind: EventKind,
        status: OfferStatus,
        *,
        actor: str,
        source_system: str,
        idempotency_key: str,
        partner_id: str | None,
        reason_code: str | None = None,
        comment: str | None = None,
        payload: dict[str, Any] | None = None,
    ) -> Applied:
        row = self.get_row(offer_id, partner_id=partner_id, for_update=True)
        previous = self.leads._existing_event(idempotency_key)  # replay: same answer, no change
        if previous is not None:
            return self.leads._replayed(previous, row.lead_id)
        if row.status != OfferStatus.PENDING.value:
            raise ConflictError(f"offer {offer_id} is already {row.status}")
        applied = self.leads.apply(
            row.lead_id,
            kind,
            actor=actor,
            source_system=source_system,
            idempotency_key=idempotency_key,
            partner_id=row.partner_id,
            offer_id=row.id,
            payload={**(payload or {}), "reason_code": reason_code, "comment": comment},
        )
        row.status = status.value
        row.decided_at = applied.event.occurred_at
        row.reason_code = reason_code
        row.comment = comment
        return applied

    def accept(
        self,
        offer_id: str,
        *,
        actor: str,
        source_system: str = "leadbridge",
        idempotency_key: str | None = None,
        partner_id: str | None = None,
    ) -> Applied:
        """The partner claims the lead; every other pending offer of the lead is withdrawn."""
        key = idempotency_key or f"accept:{offer_id}"
        applied = self._decide(
            offer_id,
            EventKind.ACCEPT,
            OfferStatus.ACCEPTED,
            actor=actor,
            source_system=source_system,
            idempotency_key=key,
            partner_id=partner_id,
        )
        if applied.created:
            for other in self.session.execute(
                select(OfferRow).where(
                    OfferRow.lead_id == applied.event.lead_id,
                    OfferRow.status == OfferStatus.PENDING.value,
                    OfferRow.id != offer_id,
                )
            ).scalars():
                self.withdraw(other.id, actor="router", reason="accepted by another partner")
        return applied

    def decline(
        self,
        offer_id: str,
        *,
        reason_code: str,
        comment: str | None = None,
        actor: str,
        source_system: str = "leadbridge",
        idempotency_key: str | None = None,
        partner_id: str | None = None,
    ) -> Applied:
        return self._decide(
            offer_id,
            EventKind.DECLINE,
            OfferStatus.DECLINED,
            actor=actor,
            source_system=source_system,
            idempotency_key=idempotency_key or f"decline:{offer_id}",
            partner_id=partner_id,
            reason_code=reason_code,
            comment=comment,
        )

    def expire(self, offer_id: str, *, actor: str = "sla") -> Applied:
        return self._decide(
            offer_id,
            EventKind.EXPIRE,
            OfferStatus.EXPIRED,
            actor=actor,
            source_system="leadbridge",
            idempotency_key=f"expire:{offer_id}",
            partner_id=None,
        )

    def withdraw(self, offer_id: str, *, actor: str, reason: str) -> Applied:
        return self._decide(
            offer_id,
            EventKind.WITHDRAW,
            OfferStatus.WITHDRAWN,
            actor=actor,
            source_system="leadbridge",
            idempotency_key=f"withdraw:{offer_id}",
            partner_id=None,
            comment=reason,
        )

    def return_lead(
        self,
        lead_id: str,
        *,
        partner_id: str,
        reason_code: str,
        comment: str | None = None,
        actor: str,
        source_system: str = "leadbridge",
        idempotency_key: str | None = None,
    ) -> Applied:
        """The holding partner gives the lead back; its accepted offer becomes ``returned``."""
        # Per routing round: a retried return is the same event, but a lead that comes round to
        # the same partner again (recycled, re-assigned) can be returned again.
        row_round = self.leads.get_row(lead_id).round
        key = idempotency_key or f"return:{lead_id}:{partner_id}:r{row_round}"
        accepted = self.session.execute(
            select(OfferRow).where(
                OfferRow.lead_id == lead_id,
                OfferRow.partner_id == partner_id,
                OfferRow.status == OfferStatus.ACCEPTED.value,
            )
        ).scalar_one_or_none()
        applied = self.leads.apply(
            lead_id,
            EventKind.RETURN,
            actor=actor,
            source_system=source_system,
            idempotency_key=key,
            partner_id=partner_id,
            offer_id=accepted.id if accepted else None,
            payload={"reason_code": reason_code, "comment": comment},
        )
        if applied.created and accepted is not None:
            accepted.status = OfferStatus.RETURNED.value
            accepted.reason_code = reason_code
            accepted.comment = comment
        return applied

    def pending_for_lead(self, lead_id: str) -> list[OfferRow]:
        return list(
            self.session.execute(
                select(OfferRow).where(
                    OfferRow.lead_id == lead_id, OfferRow.status == OfferStatus.PENDING.value
                )
            ).scalars()
        )
