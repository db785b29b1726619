"""Sending ``erase`` outbox rows: what a CRM connection does with a record to be erased.

Rules:
- ``anonymise``: the record is updated by id with the connector's ``erasure_fields`` — every field
  the mapping fills from the person cleared, the name saying "erased at the data subject's request";
- ``delete``: the record is first anonymised, then deleted (``WriteOp.DELETE``): a CRM that keeps
  deleted records in a recycle bin (Salesforce 15 days, HubSpot 90 days) keeps no personal data
  there. A record already gone counts as erased, so a retried erasure settles;
- a partner copy written while its lead was being erased (the write was in flight) gets its own
  ``erase`` row at once (anonymise), so no copy outlives an erasure;
- once a recipient confirmed, an ``erasure_notice`` event (target, mode, partner — nothing personal)
  is the proof of who was told when, and (for an erased lead) the sync link to that record is dropped;
- a consent withdrawal queues the same row without a record id: the lead's link names the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.privacy.personal import ERASED_MARK
from leadbridge.core.store.tables import LeadRow, OutboxRow
from leadbridge.ports import Action, SyncedConnector, WriteItem, WriteOp, WriteResult
from leadbridge.sync import links, outbox
from leadbridge.sync.deliver import GroupKey, Planned
from leadbridge.sync.projector import ERASE
from leadbridge.sync.tables import SyncLinkRow

STREAM_PREFIX = f"{ERASE}:"


def is_erasure(stream: str) -> bool:
    return stream.startswith(STREAM_PREFIX)


def plan(
    session: Session, connector: SyncedConnector, groups: dict[GroupKey, list[OutboxRow]]
) -> list[Planned]:
    """One write per ``erase`` group: the record's id (the row's, or the lead's link to this
    connection's record), the mode, the anonymising fields."""
    planned: list[Planned] = []
    for group, rows in groups.items():
        if group[1] != ERASE:
            continue
        payload = rows[-1].payload
        remote_id, how = payload.get("remote_id"), str(payload.get("how") or "anonymise")
        if not remote_id:
            link = links.for_lead(session, connector.name, group[0])
            remote_id = link.remote_id if link is not None else None
        if not remote_id:
            planned.append(Planned.refusal(group, "the erasure names no remote record"))
            continue
        fields = connector.erasure_fields(group[0], ERASED_MARK)
        item = WriteItem("|".join(group), fields, str(remote_id))
        planned.append(Planned(group, f"{STREAM_PREFIX}{how}", item))
    return planned


def send(connector: SyncedConnector, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
    """Anonymise ``items``; for ``erase:delete`` then delete the ones anonymised or already gone."""
    scrubbed = connector.write_batch(connector.update_stream, items)
    if stream != f"{STREAM_PREFIX}delete":
        return scrubbed
    # A record refused for good (e.g. already deleted) is still deleted: the delete decides.
    doomed = [
        (n, item)
        for n, (item, result) in enumerate(zip(items, scrubbed, strict=True))
        if result.ok or result.action in (Action.SKIP, Action.FATAL)
    ]
    removals = [WriteItem(item.key, {}, item.external_id, op=WriteOp.DELETE) for _, item in doomed]
    results = list(scrubbed)
    for (n, _), result in zip(doomed, connector.write_batch(connector.update_stream, removals), strict=True):
        results[n] = result
    return results


def record(
    session: Session, connection: str, written: list[tuple[Planned, WriteResult]], now: datetime
) -> None:
    """Prove each confirmed erasure with an event and drop its sync link (module rules)."""
    service = LeadService(session, lambda: now)
    for planned, _result in written:
        lead_id, _, _ = planned.group
        how = planned.stream.removeprefix(STREAM_PREFIX)
        remote_id = planned.item.external_id or ""
        link = session.query(SyncLinkRow).filter_by(connection=connection, remote_id=remote_id).one_or_none()
        lead = session.get(LeadRow, lead_id)
        erased = lead is not None and lead.state == LeadState.ERASED.value
        why = "erasure" if erased else f"consent:{lead.version if lead is not None else 0}"
        service.apply(
            lead_id,
            EventKind.ERASURE_NOTICE,
            actor=f"sync:{connection}",
            source_system=connection,
            idempotency_key=f"erasure_notice:{connection}:{lead_id}:{remote_id}:{why}",
            partner_id=link.partner_id if link is not None else None,
            payload={"target": connection, "how": how, "reason_code": "erasure" if erased else "consent"},
        )
        if erased:  # a consent change keeps the link: the partner still holds the lead
            session.execute(
                delete(SyncLinkRow).where(
                    SyncLinkRow.connection == connection, SyncLinkRow.remote_id == remote_id
                )
            )


def chase_late_copies(
    session: Session, connection: str, copies: list[tuple[Planned, WriteResult]], now: datetime
) -> set[str]:
    """Queue an erasure for each copy whose lead is erased by now (module rules); their lead ids."""
    lead_ids = sorted({planned.group[0] for planned, _ in copies})
    if not lead_ids:
        return set()
    erased = set(
        session.execute(
            select(LeadRow.id).where(LeadRow.id.in_(lead_ids), LeadRow.state == LeadState.ERASED.value)
        ).scalars()
    )
    for planned, result in copies:
        lead_id, _, partner_id = planned.group
        if lead_id in erased and result.remote_id:
            outbox.enqueue(
                session,
                target=connection,
                kind=ERASE,
                lead_id=lead_id,
                idempotency_key=f"{connection}:{ERASE}:{lead_id}:{result.remote_id}",
                payload={"remote_id": result.remote_id, "how": "anonymise", "partner_id": partner_id or None},
                now=now,
            )
    return erased
