"""Pulling changes: leads from a manufacturer CRM, statuses from a partner CRM.

Rules:
- a page of changes is taken in ``COMMIT_EVERY`` records per transaction, the checkpoint advancing
  with the page's last part, so an interrupted pull resumes at the page it was in; the parts already
  committed are found unchanged (intake's dedup), so nothing is lost or doubled;
- new leads of a part are taken in as one event batch (``core/event_batch.py``); if that fails
  (a concurrent intake), the part is redone record by record;
- manufacturer records go through intake (dedup by connection, external id and stamp); a record
  that cannot be mapped is quarantined with its reason, never dropped; a deleted record withdraws
  the lead's pending offers and leaves a note on its timeline;
- a pulled record whose leadbridge-owned fields equal what leadbridge last wrote and whose data did
  not change is an *echo* of our own write-back and changes nothing; a leadbridge-owned field that
  someone else changed is a *conflict*: recorded on the lead's timeline, and leadbridge's value is
  written back again (the ``conflict`` event queues the write-back);
- partner records whose partner-owned fields equal what we last saw are echoes; others become
  offer/lead events (``partner_status``);
- a quota stop ends the pull with the checkpoint of the last committed page saved;
- a record whose handling fails (any leadbridge error) is rolled back alone and quarantined with
  the reason, so one bad record never blocks the records after it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.errors import LeadbridgeError, NotFound, QuotaExhausted, SkipRecord
from leadbridge.core.event_batch import event_batch
from leadbridge.core.intake import IntakeResult, take_in, unknown_external_ids
from leadbridge.core.leads import Clock, LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import Lead, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partner_status import apply_partner_status
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, PartnerRow
from leadbridge.mappings.quarantine import SqlQuarantine
from leadbridge.ports import Change, SyncedConnector, advance
from leadbridge.sync import checkpoints, links
from leadbridge.sync.tables import SyncLinkRow

STREAM = "Lead"
log = logging.getLogger(__name__)
# Records per transaction within a page: routing (kicked by each commit) starts on the first part
# while the rest of a 2,000-record page is still being taken in.
COMMIT_EVERY = 250
# Takes what it can of a page in bulk; returns the changes left for the per-record handler.
BatchHandler = Callable[[Session, list[Change], dict[str, SyncLinkRow]], list[Change]]


@dataclass
class PullStats:
    connection: str
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    echoes: int = 0
    conflicts: int = 0
    deleted: int = 0
    quarantined: int = 0
    events: int = 0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)


def _pages(
    database: Database,
    connector: SyncedConnector,
    stats: PullStats,
    handle: Any,
    clock: Clock,
    batch: BatchHandler | None = None,
) -> None:
    with database.transaction() as session:
        since = checkpoints.load(session, connector.name, STREAM)
    try:
        for page in connector.read_changes(STREAM, since):
            parts = [page[start : start + COMMIT_EVERY] for start in range(0, len(page), COMMIT_EVERY)]
            for number, part in enumerate(parts or [[]], 1):
                with database.transaction() as session:
                    _take_part(session, connector, stats, handle, clock, batch, part)
                    if number == max(1, len(parts)):  # the page's last part carries its checkpoint
                        since = advance(since, page, connector.lookback)
                        if since is not None:
                            checkpoints.save(session, connector.name, STREAM, since, now=clock())
    except QuotaExhausted as error:
        stats.stopped = "quota"
        stats.errors.append(str(error))


def _take_part(
    session: Session,
    connector: SyncedConnector,
    stats: PullStats,
    handle: Any,
    clock: Clock,
    batch: BatchHandler | None,
    part: list[Change],
) -> None:
    known = links.by_remote(session, connector.name, [change.external_id for change in part])
    rest = batch(session, part, known) if batch is not None else part
    for change in rest:
        stats.read += 1
        try:
            with session.begin_nested():  # one bad record never blocks its page
                handle(session, change, known.get(change.external_id))
        except QuotaExhausted:
            raise
        except LeadbridgeError as error:
            _quarantine(session, connector.name, change, f"{type(error).__name__}: {error}", clock)
            stats.quarantined += 1


def pull_manufacturer(database: Database, connector: SyncedConnector, *, clock: Clock = utcnow) -> PullStats:
    """Take in new and changed leads from a manufacturer CRM (module rules)."""
    stats = PullStats(connector.name)
    with database.transaction() as session:
        quarantined = {r.external_id for r in SqlQuarantine(session).open(connector.name)}

    def handle(session: Session, change: Change, link: SyncLinkRow | None) -> None:
        if change.deleted:
            _deleted(session, connector.name, change, stats)
            return
        try:
            lead = connector.lead_from(change)
        except (ValueError, SkipRecord) as error:
            _quarantine(session, connector.name, change, str(error), clock)
            stats.quarantined += 1
            return
        conflict = False
        if link is not None and link.written:
            current = {name: change.record.get(name) for name in connector.writeback_owned}
            changed = links.differences(current, link.written, connector.writeback_owned)
            if changed:
                conflict = True
                stats.conflicts += 1
                LeadService(session, clock).apply(
                    link.lead_id,
                    EventKind.CONFLICT,
                    actor=f"sync:{connector.name}",
                    source_system=connector.name,
                    idempotency_key=f"conflict:{connector.name}:{change.external_id}:{change.stamp}",
                    payload={
                        "fields": {
                            name: {"ours": ours, "theirs": theirs} for name, (ours, theirs) in changed.items()
                        },
                        "owner": "leadbridge",
                        "winner": "leadbridge",
                    },
                )
        intake = take_in(session, lead, stamp=change.stamp, actor=f"sync:{connector.name}", clock=clock)
        if change.external_id in quarantined:  # a fixed version of a quarantined record
            SqlQuarantine(session).resolve(connector.name, change.external_id)
        if intake.result is IntakeResult.CREATED:
            stats.created += 1
        elif intake.result is IntakeResult.UPDATED:
            stats.updated += 1
        elif link is not None and not conflict:
            stats.echoes += 1
        else:
            stats.unchanged += 1

    def take_in_new(session: Session, page: list[Change], known: dict[str, SyncLinkRow]) -> list[Change]:
        """Take in the page's new leads in one event batch; the changes left for ``handle``."""
        mapped: list[tuple[Change, Lead]] = []
        rest: list[Change] = []
        for change in page:
            if change.deleted or change.external_id in known:
                rest.append(change)
                continue
            try:
                mapped.append((change, connector.lead_from(change)))
            except (ValueError, SkipRecord) as error:
                stats.read += 1
                _quarantine(session, connector.name, change, str(error), clock)
                stats.quarantined += 1
        fresh = unknown_external_ids(session, connector.name, [c.external_id for c, _ in mapped])
        new = [(change, lead) for change, lead in mapped if change.external_id in fresh]
        rest += [change for change, _ in mapped if change.external_id not in fresh]
        if not new:
            return rest
        try:
            with session.begin_nested(), event_batch(session):
                for change, lead in new:
                    actor = f"sync:{connector.name}"
                    take_in(session, lead, stamp=change.stamp, actor=actor, clock=clock, known_new=True)
                    if change.external_id in quarantined:  # a fixed version of a quarantined record
                        SqlQuarantine(session).resolve(connector.name, change.external_id)
        except (IntegrityError, LeadbridgeError) as error:
            # A concurrent intake (a webhook) took one of them first: redo them one by one.
            log.info("intake of %d leads from %s redone one by one: %s", len(new), connector.name, error)
            return rest + [change for change, _ in new]
        stats.read += len(new)
        stats.created += len(new)
        return rest

    _pages(database, connector, stats, handle, clock, batch=take_in_new)
    return stats


def pull_partner(
    database: Database, connector: SyncedConnector, *, partner_external_id: str | None, clock: Clock = utcnow
) -> PullStats:
    """Take in a partner's status changes from its CRM (module rules)."""
    stats = PullStats(connector.name)

    def handle(session: Session, change: Change, link: SyncLinkRow | None) -> None:
        if change.deleted:
            stats.deleted += 1
            return
        owned = connector.partner_owned(change)
        if link is not None and not links.differences(owned, link.seen, tuple(owned)):
            stats.echoes += 1
            return
        try:
            update = connector.partner_status(change)
        except SkipRecord as error:
            _quarantine(session, connector.name, change, str(error), clock)
            stats.quarantined += 1
            return
        partner_id = link.partner_id if link is not None else _partner_id(session, partner_external_id)
        if not update.lead_id or partner_id is None or _erased(session, update.lead_id):
            stats.unchanged += 1
            return
        try:
            done = apply_partner_status(
                session,
                update,
                partner_id=partner_id,
                key=f"{connector.name}:{change.external_id}:{change.stamp}",
                source=connector.name,
            )
        except NotFound as error:
            stats.errors.append(str(error))
            return
        stats.events += len(done)
        stats.conflicts += done.count(EventKind.CONFLICT.value)
        links.remember(
            session,
            connector.name,
            change.external_id,
            update.lead_id,
            now=clock(),
            partner_id=partner_id,
            seen=owned,
        )

    _pages(database, connector, stats, handle, clock)
    return stats


def _partner_id(session: Session, external_id: str | None) -> str | None:
    if external_id is None:
        return None
    return session.execute(
        select(PartnerRow.id).where((PartnerRow.external_id == external_id) | (PartnerRow.id == external_id))
    ).scalar_one_or_none()


# How a lead whose source record was deleted leaves the pipeline, by its state: it must not be
# routed again, and a partner's offer for it is withdrawn. A lead a partner already holds stays
# with the partner (the deal may be real); only the note is added.
_RETIRE: dict[LeadState, tuple[EventKind, ...]] = {
    LeadState.RECEIVED: (EventKind.REJECT, EventKind.CLOSE),
    LeadState.QUALIFIED: (EventKind.REJECT, EventKind.CLOSE),
    LeadState.ROUTING: (EventKind.NURTURE, EventKind.CLOSE),
    LeadState.OFFERED: (EventKind.REROUTE, EventKind.NURTURE, EventKind.CLOSE),
    LeadState.RETURNED: (EventKind.CLOSE,),
    LeadState.NURTURE: (EventKind.CLOSE,),
}


def _deleted(session: Session, connection: str, change: Change, stats: PullStats) -> None:
    service = LeadService(session)
    row = service.find_by_external(connection, change.external_id)
    if row is None:
        return
    stats.deleted += 1
    key = f"deleted:{connection}:{change.external_id}:{change.stamp}"
    actor, why = f"sync:{connection}", "deleted in the source CRM"
    applied = service.apply(
        row.id,
        EventKind.NOTE,
        actor=actor,
        source_system=connection,
        idempotency_key=key,
        payload={"note": why},
    )
    if not applied.created:
        return
    offers = OfferService(session)
    for offer in offers.pending_for_lead(row.id):
        offers.withdraw(offer.id, actor=actor, reason=why)
    for kind in _RETIRE.get(LeadState(row.state), ()):
        service.apply(
            row.id,
            kind,
            actor=actor,
            source_system=connection,
            idempotency_key=f"{key}:{kind.value}",
            payload={"reason": "deleted_in_source"},
        )


def _erased(session: Session, lead_id: str) -> bool:
    """An erased lead takes in nothing more from anywhere (a partner's record may lag its erasure)."""
    row = session.get(LeadRow, lead_id)
    return row is not None and row.state == LeadState.ERASED.value


def _quarantine(session: Session, connection: str, change: Change, reason: str, clock: Clock) -> None:
    """Keep the record with its reason (``leadbridge leads quarantine`` shows it) — unless it is the
    record of an erased lead, which is not kept anywhere."""
    link = links.by_remote(session, connection, [change.external_id]).get(change.external_id)
    source = LeadService(session).find_by_external(connection, change.external_id)
    if (link is not None and _erased(session, link.lead_id)) or (
        source is not None and source.state == LeadState.ERASED.value
    ):
        return
    SqlQuarantine(session).put(connection, change.external_id, reason[:2000], dict(change.record))
