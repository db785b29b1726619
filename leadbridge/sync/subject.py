"""Everything leadbridge holds about one person (GDPR Art. 15), as plain JSON-able data.

Rules:
- the person is found by e-mail, compared normalised (trimmed, lower case) as leads store it;
- for each of the person's leads: its data, state and holder, every event, every offer (with the
  partner's name, not its routing audit), the remote records it is linked to in each CRM, and the
  outbox writes made or pending for it;
- quarantined source records that mention the e-mail (not yet leads) are listed too;
- nothing is changed, and reading is not logged here (the caller's audit does that).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from leadbridge.core.leads import LeadService
from leadbridge.core.store.tables import LeadRow, OfferRow, OutboxRow, PartnerRow, QuarantineRow
from leadbridge.sync.tables import SyncLinkRow


def export_subject(session: Session, email: str) -> dict[str, Any]:
    """The person's data (module rules); ``leads`` is empty when leadbridge holds nothing."""
    wanted = email.strip().lower()
    rows = session.execute(
        select(LeadRow).where(LeadRow.email == wanted).order_by(LeadRow.created_at)
    ).scalars()
    leads = [_lead(session, row) for row in rows]
    quarantined = session.execute(
        select(QuarantineRow).where(cast(QuarantineRow.record, String).contains(wanted))
    ).scalars()
    return {
        "subject": wanted,
        "leads": leads,
        "quarantined_records": [
            {
                "connection": q.connection,
                "external_id": q.external_id,
                "reason": q.reason,
                "record": q.record,
                "received_at": q.created_at.isoformat(),
            }
            for q in quarantined
        ],
    }


def _lead(session: Session, row: LeadRow) -> dict[str, Any]:
    partners = dict(session.execute(select(PartnerRow.id, PartnerRow.name)).all())
    offers = session.execute(select(OfferRow).where(OfferRow.lead_id == row.id).order_by(OfferRow.offered_at))
    links = session.execute(select(SyncLinkRow).where(SyncLinkRow.lead_id == row.id)).scalars()
    writes = session.execute(
        select(OutboxRow).where(OutboxRow.lead_id == row.id).order_by(OutboxRow.id)
    ).scalars()
    return {
        "id": row.id,
        "state": row.state,
        "held_by": partners.get(row.partner_id or "", row.partner_id),
        "source": {"connection": row.source_connection, "record_id": row.external_id},
        "data": row.data,
        "received_at": row.created_at.isoformat(),
        "events": [e.model_dump(mode="json") for e in LeadService(session).events(row.id)],
        "offers": [
            {
                "partner": partners.get(o.partner_id, o.partner_id),
                "status": o.status,
                "offered_at": o.offered_at.isoformat(),
                "decided_at": o.decided_at.isoformat() if o.decided_at else None,
                "reason_code": o.reason_code,
                "comment": o.comment,
            }
            for o in offers.scalars()
        ],
        "copies": [
            {
                "connection": link.connection,
                "record_id": link.remote_id,
                "partner": partners.get(link.partner_id or ""),
            }
            for link in links
        ],
        "writes": [
            {
                "target": w.target,
                "kind": w.kind,
                "status": w.status,
                "at": (w.sent_at or w.created_at).isoformat(),
            }
            for w in writes
        ],
    }
