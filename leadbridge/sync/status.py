"""The write-back view of a lead, projected from its row and event log.

Rule: the record reflects the lead's *current* facts (state, holding partner, last partner status,
outcome, last reason), so writing it is idempotent and any number of queued write-backs for one
lead collapse into one write of this record.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import OutcomeResult
from leadbridge.core.store.tables import LeadEventRow, LeadRow, PartnerRow
from leadbridge.core.writeback import LeadStatusRecord

E = EventKind


def _decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None


def _date(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


# The events that change a write-back record; the others (receive, qualify, route, notes…) are skipped.
_RELEVANT = tuple(
    k.value for k in (E.OFFER, E.ACCEPT, E.STATUS, E.WIN, E.LOSE, E.DECLINE, E.RETURN, E.REROUTE, E.REOPEN)
)


def status_records(session: Session, lead_ids: Iterable[str]) -> dict[str, LeadStatusRecord]:
    """One ``LeadStatusRecord`` per existing lead id (three column queries for the whole batch)."""
    ids = list(dict.fromkeys(lead_ids))
    leads = {
        row.id: row
        for row in session.execute(
            select(LeadRow.id, LeadRow.state, LeadRow.partner_id, LeadRow.updated_at).where(
                LeadRow.id.in_(ids)
            )
        )
    }
    events: dict[str, list[Any]] = {lead_id: [] for lead_id in leads}
    for event in session.execute(
        select(LeadEventRow.lead_id, LeadEventRow.kind, LeadEventRow.occurred_at, LeadEventRow.payload)
        .where(LeadEventRow.lead_id.in_(ids), LeadEventRow.kind.in_(_RELEVANT))
        .order_by(LeadEventRow.lead_id, LeadEventRow.seq)
    ):
        events[event.lead_id].append(event)
    partner_ids = {row.partner_id for row in leads.values() if row.partner_id}
    query = select(PartnerRow.id, PartnerRow.name).where(PartnerRow.id.in_(partner_ids))
    names = {partner_id: name for partner_id, name in session.execute(query)}
    return {lead_id: _record(row, events[lead_id], names) for lead_id, row in leads.items()}


def _record(row: Any, events: list[Any], partner_names: dict[str, str]) -> LeadStatusRecord:
    """The record from a lead's columns (id, state, partner_id, updated_at) and its relevant events
    (kind, occurred_at, payload) in log order."""
    fields: dict[str, Any] = {
        "lead_id": row.id,
        "state": LeadState(row.state),
        "partner_id": row.partner_id,
        "partner_name": partner_names.get(row.partner_id or ""),
        "updated_at": row.updated_at,
    }
    for event in events:
        kind, payload = event.kind, event.payload or {}
        if kind == E.OFFER:
            fields["offered_at"] = event.occurred_at
        elif kind == E.ACCEPT:
            fields["claimed_at"] = event.occurred_at
            fields["partner_status"] = payload.get("status") or "accepted"
        elif kind == E.STATUS:
            fields["partner_status"] = payload.get("status") or fields.get("partner_status")
            fields["next_follow_up"] = _date(payload.get("next_follow_up"))
        elif kind == E.WIN:
            fields["outcome"] = OutcomeResult.WON
            fields["expected_revenue"] = _decimal(payload.get("amount"))
            fields["close_date"] = _date(payload.get("close_date")) or event.occurred_at.date()
        elif kind == E.LOSE:
            fields["outcome"] = OutcomeResult.LOST
            fields["reason"] = payload.get("reason_code")
            fields["close_date"] = _date(payload.get("close_date")) or event.occurred_at.date()
        elif kind in (E.DECLINE, E.RETURN) and payload.get("reason_code"):
            fields["reason"] = payload["reason_code"]
        elif kind in (E.RETURN, E.REROUTE, E.REOPEN):
            fields.pop("outcome", None)
        if kind == E.RETURN:
            fields["partner_status"] = "returned"
            fields["claimed_at"] = None
    if row.partner_id is None:
        fields["partner_name"] = None
    return LeadStatusRecord.model_validate(fields)
