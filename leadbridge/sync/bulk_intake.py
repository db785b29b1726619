"""Bulk intake: a chunk of leads taken in with a few queries, for file imports and the REST bulk path.

Rules (the same outcome as ``take_in`` per lead, only faster):
- versions already taken in (same connection, external id and content stamp) are ``unchanged``,
  found with one query for the whole chunk — so re-running an interrupted import skips what it
  already wrote at the speed of reading;
- leads whose external id is new are created with one multi-row insert per table
  (``intake.insert_new``, a closed lead's history included) — or, when session hooks must see
  their events (a connection that gets write-backs), in one event batch (``core/event_batch.py``); if either
  fails (a concurrent writer took one of them first), they are redone one by one on the checked path;
- everything else (a changed version of a known lead, the same external id twice in a chunk) goes
  through ``take_in`` one at a time;
- a lead with a ``History`` (a closed lead) gets its past appended after intake (``core/history.py``),
  only while it has not been routed yet — history never rewrites a lead leadbridge is working on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.event_batch import event_batch
from leadbridge.core.history import History, record_history
from leadbridge.core.intake import Intake, IntakeResult, NewLead, insert_new, stamp_of_dump, take_in
from leadbridge.core.leads import Clock, LeadService
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import Lead, utcnow
from leadbridge.core.store.tables import IntakeRow, LeadRow
from leadbridge.sync import projector

log = logging.getLogger(__name__)
_BEFORE_ROUTING = frozenset({LeadState.RECEIVED.value, LeadState.QUALIFIED.value, LeadState.NURTURE.value})


@dataclass(frozen=True)
class Incoming:
    """A lead to take in; with ``history`` and its resolved ``partner_id`` when it is a closed lead.

    ``data`` and ``stamp``: the lead's JSON dump and content stamp when the caller already made
    them (``lead_updates.merge_known``), so they are not made twice.
    """

    lead: Lead
    history: History | None = None
    partner_id: str | None = None
    data: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    stamp: str | None = field(default=None, compare=False)


def _at(moment: datetime) -> Clock:
    return lambda: moment


def _store(
    session: Session, item: Incoming, stamp: str, actor: str, clock: Clock, *, known_new: bool
) -> Intake:
    history = item.history
    when = _at(history.started_at) if history is not None else clock
    marks = {"history": True} if history is not None else None
    intake = take_in(
        session, item.lead, stamp=stamp, actor=actor, clock=when, known_new=known_new, marks=marks
    )
    if history is not None and item.partner_id is not None:
        row = LeadService(session).get_row(intake.lead_id, for_update=not known_new)
        if row.state in _BEFORE_ROUTING:
            record_history(session, row, history, item.partner_id)
    return intake


@dataclass(frozen=True)
class Known:
    """What one connection already has of a chunk's external ids: their leads (id and state) and
    the ``(external id, stamp)`` versions taken in."""

    leads: dict[str, tuple[str, str]]
    versions: set[tuple[str, str]]


# One statement each, cached compiled; the chunk's ids are bound as one expanding parameter instead
# of thousands of literals coerced one by one each time the query is built.
_KNOWN_LEADS = select(LeadRow.external_id, LeadRow.id, LeadRow.state).where(
    LeadRow.source_connection == bindparam("connection"),
    LeadRow.external_id.in_(bindparam("external_ids", expanding=True)),
)
_KNOWN_VERSIONS = select(IntakeRow.external_id, IntakeRow.stamp).where(
    IntakeRow.connection == bindparam("connection"),
    IntakeRow.external_id.in_(bindparam("external_ids", expanding=True)),
)


def known_leads(session: Session, connection: str, external_ids: Sequence[str]) -> Known:
    """The chunk's known leads and versions of ``connection`` (two queries)."""
    params = {"connection": connection, "external_ids": list(external_ids)}
    leads = session.execute(_KNOWN_LEADS, params).all()
    versions = session.execute(_KNOWN_VERSIONS, params).all()
    return Known(
        {e: (lead_id, state) for e, lead_id, state in leads if e is not None}, {(e, s) for e, s in versions}
    )


def take_in_chunk(
    session: Session,
    items: Sequence[Incoming],
    *,
    actor: str,
    clock: Clock = utcnow,
    known: dict[str, Known] | None = None,
) -> list[Intake]:
    """Take every item in per the module rules; one ``Intake`` per item, in order.

    ``known``: what the caller already looked up for these external ids, by connection, in this
    transaction (``lead_updates.merge_known``); a connection missing there is looked up here.
    """
    dumps = [item.data if item.data is not None else item.lead.model_dump(mode="json") for item in items]
    stamps = [
        item.stamp if item.stamp is not None and item.data is not None else stamp_of_dump(data)
        for item, data in zip(items, dumps, strict=True)
    ]
    results: list[Intake | None] = [None] * len(items)
    by_connection: dict[str, list[int]] = {}
    for index, item in enumerate(items):
        if item.lead.external_id is None:
            raise ValueError("a lead from a source needs an external id")
        by_connection.setdefault(item.lead.source_connection, []).append(index)
    one_by_one: list[int] = []
    for connection, indexes in by_connection.items():
        external_ids = sorted({items[i].lead.external_id or "" for i in indexes})
        found = (known or {}).get(connection) or known_leads(session, connection, external_ids)
        existing = {external_id: lead_id for external_id, (lead_id, _state) in found.leads.items()}
        versions = found.versions
        new: list[int] = []
        claimed: set[str] = set()
        for i in indexes:
            external_id = items[i].lead.external_id or ""
            if external_id in existing and (external_id, stamps[i]) in versions:
                results[i] = Intake(existing[external_id], IntakeResult.UNCHANGED)
            elif external_id not in existing and external_id not in claimed:
                claimed.add(external_id)
                new.append(i)
            else:
                one_by_one.append(i)
        home_targets = projector.targets_of(session).manufacturer
        # history is never written back (its events are marked), so a closed lead needs no hooks
        plain = [i for i in new if connection not in home_targets or _closed(items[i])]
        if plain and not _insert(
            session,
            [
                NewLead(items[i].lead, dumps[i], stamps[i], items[i].history, items[i].partner_id)
                for i in plain
            ],
            plain,
            results,
            actor,
            clock,
        ):
            one_by_one += plain
        hooked = sorted(set(new) - set(plain))
        if hooked and not _create_in_batch(session, items, stamps, hooked, results, actor, clock):
            one_by_one += hooked
    for i in sorted(one_by_one):
        with session.begin_nested():
            results[i] = _store(session, items[i], stamps[i], actor, clock, known_new=False)
    assert all(r is not None for r in results)  # every index went one of the three ways
    return [r for r in results if r is not None]


def _new_lead(item: Incoming, data: dict[str, Any], stamp: str) -> NewLead:
    return NewLead(item.lead, data, stamp, item.history, item.partner_id)


def _closed(item: Incoming) -> bool:
    return item.history is not None and item.partner_id is not None


def _insert(
    session: Session,
    new: list[NewLead],
    indexes: list[int],
    results: list[Intake | None],
    actor: str,
    clock: Clock,
) -> bool:
    """Insert new leads without the ORM; False (nothing kept) when an insert failed."""
    try:
        with session.begin_nested():
            done = insert_new(session, new, actor=actor, clock=clock)
    except IntegrityError as error:
        log.info("bulk insert of %d leads redone one by one: %s", len(new), error.orig)
        return False
    for i, intake in zip(indexes, done, strict=True):
        results[i] = intake
    return True


def _create_in_batch(
    session: Session,
    items: Sequence[Incoming],
    stamps: list[str],
    new: list[int],
    results: list[Intake | None],
    actor: str,
    clock: Clock,
) -> bool:
    """Create the new leads in one event batch; False (nothing kept) when the batch failed."""
    done: dict[int, Intake] = {}
    try:
        with session.begin_nested(), event_batch(session):
            for i in new:
                done[i] = _store(session, items[i], stamps[i], actor, clock, known_new=True)
    except (IntegrityError, LeadbridgeError) as error:
        log.info("bulk intake of %d leads redone one by one: %s", len(new), error)
        return False
    for i, intake in done.items():
        results[i] = intake
    return True
