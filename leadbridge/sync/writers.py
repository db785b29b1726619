"""What each kind of outbox row becomes: write-back to the home CRM, a Task, or the partner's copy.

Rules:
- ``lead_status``: the lead's current ``LeadStatusRecord`` written onto its home record (by id);
- ``task``: one completed Task on the home record per status change (when configured);
- ``partner_lead``: the partner's copy of the lead, upserted on our lead id — blind while the offer
  is pending, full once this partner accepted, marked withdrawn when its offer is withdrawn,
  expired or returned (a reclaim closes the partner's record, its reason on the status record);
  the partner-owned ``Status`` is only set on the first push;
- the identity is only written to a partner its consent scope covers (checked here, at sending
  time, whatever routing decided);
- ``erase``: the record of an erased lead is anonymised or deleted (``erasure_writes.py``), for
  either side; a partner copy of an erased lead is never built again;
- after a successful write the link remembers what we wrote (echo suppression, conflicts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.errors import SkipRecord
from leadbridge.core.leads import lead_from_row
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import Lead, OfferStatus
from leadbridge.core.privacy.consent import PartnerFacts
from leadbridge.core.privacy.shares import partner_facts
from leadbridge.core.store.tables import LeadRow, OfferRow, OutboxRow
from leadbridge.ports import Change, SyncedConnector, WriteItem, WriteResult
from leadbridge.sync import erasure_writes, links
from leadbridge.sync.deliver import GroupKey, Planned
from leadbridge.sync.projector import PARTNER_LEAD, TASK, WRITEBACK
from leadbridge.sync.status import status_records


def _lead_rows(session: Session, lead_ids: list[str]) -> dict[str, LeadRow]:
    rows = session.execute(select(LeadRow).where(LeadRow.id.in_(lead_ids))).scalars()
    return {row.id: row for row in rows}


def consented(lead: Lead, facts: PartnerFacts | None) -> Lead:
    """The lead with ``share_with_partners`` saying whether its consent scope covers this partner
    (the connectors reveal the identity to an accepting partner only when it is set), so the
    decision is taken again before any data leaves, whatever routing decided."""
    allowed = facts is not None and lead.consent.effective.allows(facts)
    if allowed == lead.consent.share_with_partners:
        return lead
    consent = lead.consent.model_copy(update={"share_with_partners": allowed})
    return lead.model_copy(update={"consent": consent})


def _key(group: GroupKey) -> str:
    return "|".join(group)


class HomeWriter:
    """Write-back (and Tasks) to the manufacturer CRM a lead came from."""

    def __init__(self, connector: SyncedConnector) -> None:
        self.connector = connector

    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]:
        lead_ids = [group[0] for group in groups]
        statuses = status_records(session, lead_ids)
        rows_by_id = _lead_rows(session, lead_ids)
        planned: list[Planned] = erasure_writes.plan(session, self.connector, groups)
        for group, rows in groups.items():
            lead_id, kind, _ = group
            lead, status = rows_by_id.get(lead_id), statuses.get(lead_id)
            record_id = lead.external_id if lead is not None else None
            if lead is None or record_id is None or status is None or lead.state == LeadState.ERASED:
                continue
            if kind == WRITEBACK:
                try:
                    fields = self.connector.writeback_fields(lead_from_row(lead), status)
                except SkipRecord as error:
                    planned.append(Planned.refusal(group, f"cannot map the write-back: {error}"))
                    continue
                item = WriteItem(_key(group), fields, record_id)
                planned.append(Planned(group, self.connector.update_stream, item))
            elif kind == TASK:
                events = ", ".join(str(row.payload.get("event")) for row in rows)
                subject = f"leadbridge: {events} ({status.partner_name or 'no partner'})"
                description = f"Lead {lead_id} is now {status.state}; partner status {status.partner_status}."
                fields = self.connector.task_fields(record_id, subject, description)
                planned.append(Planned(group, self.connector.task_stream, WriteItem(_key(group), fields)))
        return planned

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        if erasure_writes.is_erasure(stream):
            return erasure_writes.send(self.connector, stream, items)
        return self.connector.write_batch(stream, items)

    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        erased = [(p, r) for p, r in written if erasure_writes.is_erasure(p.stream)]
        erasure_writes.record(session, self.connector.name, erased, now)
        updates = [p for p, _ in written if p.stream == self.connector.update_stream and p.item.external_id]
        owned = self.connector.writeback_owned
        links.remember_many(
            session,
            self.connector.name,
            [
                links.LinkWrite(
                    planned.item.external_id or "",
                    planned.group[0],
                    written={name: planned.item.fields.get(name) for name in owned},
                )
                for planned in updates
            ],
            now=now,
        )


class PartnerWriter:
    """The partner's copy of each lead offered to it, in the partner's own CRM."""

    def __init__(self, connector: SyncedConnector) -> None:
        self.connector = connector

    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]:
        lead_ids = [group[0] for group in groups]
        leads = _lead_rows(session, lead_ids)
        statuses = status_records(session, lead_ids)
        known = links.for_leads(session, self.connector.name, lead_ids)
        latest_offer: dict[tuple[str, str], OfferRow] = {}
        for row in session.execute(
            select(OfferRow).where(OfferRow.lead_id.in_(lead_ids)).order_by(OfferRow.offered_at, OfferRow.id)
        ).scalars():
            latest_offer[(row.lead_id, row.partner_id)] = row  # ordered: the newest offer stays
        planned: list[Planned] = erasure_writes.plan(session, self.connector, groups)
        facts = partner_facts(session, [group[2] for group in groups if group[2]])
        for group in groups:
            lead_id, kind, partner_id = group
            lead = leads.get(lead_id)
            if kind != PARTNER_LEAD or lead is None or not partner_id or lead.state == LeadState.ERASED:
                continue
            offer = latest_offer.get((lead_id, partner_id))
            if offer is None:
                continue
            accepted = lead.partner_id == partner_id
            withdrawn = not accepted and offer.status in (
                OfferStatus.WITHDRAWN.value,
                OfferStatus.EXPIRED.value,
                OfferStatus.RETURNED.value,  # given back, or taken back by leadbridge
            )
            try:
                fields = self.connector.partner_fields(
                    consented(lead_from_row(lead), facts.get(partner_id)),
                    statuses[lead_id],
                    accepted=accepted,
                    withdrawn=withdrawn,
                    first_push=lead_id not in known,
                )
            except SkipRecord as error:
                planned.append(Planned.refusal(group, f"cannot map the partner's copy: {error}"))
                continue
            planned.append(Planned(group, self.connector.upsert_stream, WriteItem(_key(group), fields)))
        return planned

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        if erasure_writes.is_erasure(stream):
            return erasure_writes.send(self.connector, stream, items)
        return self.connector.write_batch(stream, items)

    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        erasure_writes.record(
            session,
            self.connector.name,
            [(p, r) for p, r in written if erasure_writes.is_erasure(p.stream)],
            now,
        )
        copies = [(p, r) for p, r in written if r.remote_id and not erasure_writes.is_erasure(p.stream)]
        # A copy sent while its lead was being erased: that CRM is told to erase it too.
        erased = erasure_writes.chase_late_copies(session, self.connector.name, copies, now)
        writes: list[links.LinkWrite] = []
        for planned, result in copies:
            if result.remote_id is None or planned.group[0] in erased:
                continue
            lead_id, _, partner_id = planned.group
            # first push: the Status we set is what we will read back (kept only if the link is new)
            change = Change(self.connector.upsert_stream, result.remote_id, "", planned.item.fields)
            first_seen = self.connector.partner_owned(change)
            writes.append(
                links.LinkWrite(
                    result.remote_id, lead_id, partner_id, dict(planned.item.fields), seen_if_new=first_seen
                )
            )
        links.remember_many(session, self.connector.name, writes, now=now)
