"""Erasure of one lead (GDPR Art. 17) and its propagation to every recipient (Art. 19).

Rules, all in the caller's transaction:
- the lead moves to ``erased`` with an ``erase`` event; its stored data keeps only the
  non-personal skeleton (``core/privacy/personal.py``); every event of the lead keeps its skeleton
  and loses its personal payload; offers lose their free-text comment and blind preview; pending
  offers are withdrawn (reason ``erased``);
- outbox rows of the lead that were not sent are deleted (they would carry the person out again);
  sent ones keep only their skeleton; quarantined source records of the person are deleted; sync
  links forget the values last written and seen;
- every recipient is told through the outbox, one ``erase`` row each, retried and dead-lettered like
  any write: each partner CRM record linked to the lead (delete or anonymise, per the policy's
  ``privacy.erasure`` for that connection) and the home CRM record when ``privacy.erasure.home``.
  A partner on the hosted inbox reads leadbridge's own database, so it is told at once: an
  ``erasure_notice`` event and the inbox shows the lead as erased at the data subject's request;
  its users also get a mail saying so (lead id only), queued as a pending ``mail`` outbox row in
  the same transaction (sent by the mail step, dead-lettered and retryable like any mail);
- the payload of an ``erase`` row holds only the remote record id, the mode and the partner id;
- erasing an erased lead changes nothing and reports the recipients already told.
The database file is cleaned afterwards by ``core.privacy.dbfile.purge_freed`` (SQLite).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, delete, select, update
from sqlalchemy.orm import Session

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import OfferStatus
from leadbridge.core.privacy import audit
from leadbridge.core.privacy.config import Erasure
from leadbridge.core.privacy.dbfile import purge_freed
from leadbridge.core.privacy.personal import erased_lead_data, erased_payload
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import (
    LeadEventRow,
    LeadRow,
    OfferRow,
    OutboxRow,
    PartnerRow,
    QuarantineRow,
)
from leadbridge.notify import dead_letters
from leadbridge.notify.dead_letters import MailEvent
from leadbridge.sync import outbox
from leadbridge.sync.projector import ERASE, SyncTargets
from leadbridge.sync.tables import SyncLinkRow

INBOX = "inbox"  # the recipient name of partners on the hosted inbox


@dataclass(frozen=True)
class Recipient:
    """Who is told of an erasure: a connection (its record ``remote_id``) or the inbox."""

    target: str
    how: str  # anonymise | delete | inbox
    partner_id: str | None = None
    remote_id: str | None = None


@dataclass
class ErasureReport:
    """What ``erase_lead`` did; no personal data in it."""

    lead_id: str
    erased_at: datetime
    already: bool = False
    recipients: list[Recipient] = field(default_factory=list)
    scrubbed: dict[str, int] = field(default_factory=dict)
    database_file: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["erased_at"] = self.erased_at.isoformat()
        return data


def erase_lead(
    session: Session,
    lead_id: str,
    *,
    actor: str,
    reason: str | None,
    rules: Erasure,
    targets: SyncTargets,
    now: datetime,
) -> ErasureReport:
    """Erase one lead and queue its propagation (module rules); ``NotFound`` for an unknown id."""
    service = LeadService(session, lambda: now)
    row = service.get_row(lead_id, for_update=True)
    if row.state == LeadState.ERASED.value:
        return ErasureReport(lead_id, row.updated_at, already=True, recipients=_told(session, lead_id))
    person = [value for value in (row.email, (row.data or {}).get("phone")) if value]
    recipients = _recipients(session, row, rules, targets)
    report = ErasureReport(lead_id, now, recipients=recipients)
    report.scrubbed = _scrub(session, row, person, now)
    service.apply(
        lead_id,
        EventKind.ERASE,
        actor=actor,
        idempotency_key=f"erase:{lead_id}",
        payload={
            "reason": reason or "data subject's request",
            "recipients": [
                {"target": r.target, "how": r.how, "partner_id": r.partner_id} for r in recipients
            ],
        },
        row=row,
    )
    for recipient in recipients:
        if recipient.how == INBOX:
            told = service.apply(
                lead_id,
                EventKind.ERASURE_NOTICE,
                actor="leadbridge",
                idempotency_key=f"erasure_notice:{INBOX}:{lead_id}:{recipient.partner_id}",
                partner_id=recipient.partner_id,
                payload={"target": INBOX, "how": INBOX},
                row=row,
            )
            notice = MailEvent(
                told.event.id, "erasure_notice", lead_id, None, "erasure", recipient.partner_id
            )
            dead_letters.queue(session, notice, now)  # and its users get a mail, retried like any
            continue
        outbox.enqueue(
            session,
            target=recipient.target,
            kind=ERASE,
            lead_id=lead_id,
            idempotency_key=f"{recipient.target}:{ERASE}:{lead_id}:{recipient.remote_id}",
            payload={
                "remote_id": recipient.remote_id,
                "how": recipient.how,
                "partner_id": recipient.partner_id,
            },
            now=now,
        )
    return report


def erase(
    database: Database,
    lead_id: str,
    *,
    actor: str,
    reason: str | None,
    rules: Erasure,
    targets: SyncTargets,
    now: datetime,
    channel: str = "cli",
    vacuum: bool = False,
) -> ErasureReport:
    """``erase_lead`` in its own transaction (audited), then the database files are purged of the
    freed bytes (``core.privacy.dbfile``): what the CLI, the API and the cockpit call."""
    with database.transaction() as session:
        report = erase_lead(
            session, lead_id, actor=actor, reason=reason, rules=rules, targets=targets, now=now
        )
        if not report.already:
            audit.record(
                session,
                actor=actor,
                channel=channel,
                action="erase",
                at=now,
                lead_id=lead_id,
                detail={"recipients": len(report.recipients)},
            )
    report.database_file = purge_freed(database, vacuum=vacuum)
    return report


def _recipients(session: Session, row: LeadRow, rules: Erasure, targets: SyncTargets) -> list[Recipient]:
    found: list[Recipient] = []
    if rules.home and row.source_connection in targets.manufacturer and row.external_id:
        mode = rules.mode_for(row.source_connection)
        found.append(Recipient(row.source_connection, mode, None, row.external_id))
    linked = session.execute(select(SyncLinkRow).where(SyncLinkRow.lead_id == row.id)).scalars()
    for link in sorted(linked, key=lambda link: (link.connection, link.remote_id)):
        if link.connection in targets.partner:
            mode = rules.mode_for(link.connection)
            found.append(Recipient(link.connection, mode, link.partner_id, link.remote_id))
    # Inbox partners: offered the lead (and so shown at least its blind preview), no CRM of their own.
    offered = session.execute(
        select(PartnerRow.id, PartnerRow.connection)
        .join(OfferRow, OfferRow.partner_id == PartnerRow.id)
        .where(OfferRow.lead_id == row.id)
        .distinct()
    ).all()
    for partner_id, connection in sorted(offered):
        if connection in targets.events:  # a webhook partner: an ``erased`` event (sync/partner_events.py)
            found.append(Recipient(connection, rules.mode_for(connection), partner_id))
        elif connection not in targets.partner:
            found.append(Recipient(INBOX, INBOX, partner_id))
    return found


def _scrub(session: Session, row: LeadRow, person: list[str], now: datetime) -> dict[str, int]:
    """Remove the person's data from every table leadbridge keeps (module rules); counts per table."""
    counts: dict[str, int] = {}
    row.data = erased_lead_data(row.data or {})
    row.email = row.company = row.postal_code = None
    events = list(session.execute(select(LeadEventRow).where(LeadEventRow.lead_id == row.id)).scalars())
    for event_row in events:
        event_row.payload = erased_payload(event_row.payload)
    counts["lead_events"] = len(events)
    offers = list(session.execute(select(OfferRow).where(OfferRow.lead_id == row.id)).scalars())
    for offer in offers:
        offer.comment = None
        if offer.decision and "preview" in offer.decision:
            offer.decision = {k: v for k, v in offer.decision.items() if k != "preview"}
        if offer.status == OfferStatus.PENDING.value:
            offer.status, offer.decided_at, offer.reason_code = OfferStatus.WITHDRAWN.value, now, "erased"
    counts["offers"] = len(offers)
    session.flush()  # events appended earlier in this transaction queue their outbox rows now
    unsent = delete(OutboxRow).where(
        OutboxRow.lead_id == row.id,
        OutboxRow.kind != ERASE,
        OutboxRow.status != outbox.OutboxStatus.SENT.value,
    )
    counts["outbox_deleted"] = int(session.execute(unsent).rowcount or 0)  # type: ignore[attr-defined]
    sent = list(
        session.execute(
            select(OutboxRow).where(OutboxRow.lead_id == row.id, OutboxRow.kind != ERASE)
        ).scalars()
    )
    for outbox_row in sent:
        outbox_row.payload = erased_payload(outbox_row.payload)
    counts["outbox_scrubbed"] = len(sent)
    counts["quarantine"] = _drop_quarantined(session, row, person)
    links = session.execute(
        update(SyncLinkRow).where(SyncLinkRow.lead_id == row.id).values(written={}, seen={}, updated_at=now)
    )
    counts["sync_links"] = int(links.rowcount or 0)  # type: ignore[attr-defined]
    return counts


def _drop_quarantined(session: Session, row: LeadRow, person: list[str]) -> int:
    """Quarantined source records of this lead, or mentioning the person's e-mail or phone."""
    which = (QuarantineRow.connection == row.source_connection) & (
        QuarantineRow.external_id == row.external_id
    )
    for value in person:
        which = which | cast(QuarantineRow.record, String).contains(str(value))
    return int(session.execute(delete(QuarantineRow).where(which)).rowcount or 0)  # type: ignore[attr-defined]


def _told(session: Session, lead_id: str) -> list[Recipient]:
    """The recipients of an earlier erasure (its ``erase`` event lists them)."""
    event_row = session.execute(
        select(LeadEventRow).where(
            LeadEventRow.lead_id == lead_id, LeadEventRow.kind == EventKind.ERASE.value
        )
    ).scalar_one_or_none()
    listed = (event_row.payload or {}).get("recipients", []) if event_row is not None else []
    return [Recipient(item["target"], item["how"], item.get("partner_id")) for item in listed]
