"""Intake: take a lead from a source into the log exactly once per version, then qualify it.

Rules:
- a source version is identified by ``(connection, external id, modification stamp)``; seeing the
  same triple again changes nothing (``unchanged``) — so re-reading a page or a replayed webhook
  never duplicates a lead or an event;
- a new external id creates the lead (``received``) and qualifies it at once: MQL/SQL →
  ``qualified``, anything else → ``nurture``;
- a newer version of a known lead replaces its data (an ``update`` event listing the changed fields);
  the lead's state is not touched;
- a lead without coordinates is placed from its postal code (or city) by the shipped gazetteer
  (``core/geocode.py``) after its stamp is taken; the ``receive`` event says how
  (``geocoded: postal_code DE 80331``), so the timeline shows where its location came from;
- a lead in ``nurture`` whose newer version *became* qualified (its stored stage was not MQL/SQL,
  the new one is) is qualified again and so routed (recycling: a re-import, a CRM change or the
  API); a lead nurtured by a partner's "not a lead" return keeps its MQL stage and stays nurtured;
- a version whose consent changed applies the change first (``core/privacy/withdrawal.py``): a
  narrower scope withdraws the lead from partners it no longer covers;
- an erased lead is never filled again: a later version of its source record changes nothing
  (its external id is kept after erasure for exactly this).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.event_batch import current_batch
from leadbridge.core.geocode import carry_geocoded, geocode_lead
from leadbridge.core.history import History, history_rows
from leadbridge.core.leads import Clock, LeadService, lead_from_row, projection_columns
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import Lead, new_id, utcnow
from leadbridge.core.privacy.withdrawal import change_consent, source_withdrawal
from leadbridge.core.store.bulk import insert_rows
from leadbridge.core.store.tables import IntakeRow, LeadEventRow, LeadRow, OfferRow


class IntakeResult(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Intake:
    lead_id: str
    result: IntakeResult


# Fields that are leadbridge's own bookkeeping, not source data: never a reason for an update.
_NOT_SOURCE_DATA = {"id", "created_at"}


def content_stamp(lead: Lead) -> str:
    """A stable stamp for sources without modification stamps (CSV, API): a hash of the data."""
    return stamp_of_dump(lead.model_dump(mode="json"))


def stamp_of_dump(data: dict[str, Any]) -> str:
    """``content_stamp`` of a lead already dumped with ``model_dump(mode="json")``."""
    source = {key: value for key, value in data.items() if key not in _NOT_SOURCE_DATA}
    return hashlib.sha256(json.dumps(source, sort_keys=True).encode()).hexdigest()[:32]


def changed_fields(old: Lead, new: Lead) -> dict[str, Any]:
    before = old.model_dump(mode="json", exclude=_NOT_SOURCE_DATA)
    after = new.model_dump(mode="json", exclude=_NOT_SOURCE_DATA)
    return {key: after[key] for key in after if before.get(key) != after[key]}


def take_in(
    session: Session,
    lead: Lead,
    *,
    stamp: str | None = None,
    actor: str = "intake",
    clock: Clock = utcnow,
    known_new: bool = False,
    marks: dict[str, Any] | None = None,
) -> Intake:
    """Record one source version of a lead per the module rules.

    ``known_new``: the caller established (in one query for a whole page, see ``unknown_external_ids``)
    that no lead has this external id yet, so the per-record lookups are skipped. ``marks`` are
    added to the payload of the events intake appends (``history: true`` for imported history).
    """
    stamp = stamp or content_stamp(lead)
    lead, place = geocode_lead(lead)  # after the stamp: the source's version, not our additions
    if lead.external_id is None:
        raise ValueError("a lead from a source needs an external id")
    connection = lead.source_connection
    service = LeadService(session, clock)
    seen, existing = None, None
    if not known_new:
        seen = session.execute(
            select(IntakeRow.lead_id).where(
                IntakeRow.connection == connection,
                IntakeRow.external_id == lead.external_id,
                IntakeRow.stamp == stamp,
            )
        ).first()
        existing = service.find_by_external(connection, lead.external_id)
    if existing is not None and existing.state == LeadState.ERASED.value:
        return Intake(existing.id, IntakeResult.UNCHANGED)
    if seen is not None and existing is not None:
        return Intake(existing.id, IntakeResult.UNCHANGED)
    key = f"intake:{connection}:{lead.external_id}:{stamp}"
    if existing is None:
        geocoded = {"geocoded": place.describe()} if place else {}
        service.receive(
            lead,
            actor=actor,
            source_system=connection,
            idempotency_key=key,
            payload={**geocoded, **(marks or {})} or None,
        )
        qualify = EventKind.QUALIFY if lead.is_qualified else EventKind.NURTURE
        service.apply(
            lead.id,
            qualify,
            actor=actor,
            source_system="leadbridge",
            idempotency_key=f"{qualify.value}:{lead.id}",
            payload={"stage": lead.stage.value, **(marks or {})},
        )
        result, lead_id = IntakeResult.CREATED, lead.id
    else:
        current = lead_from_row(existing)
        fresh = lead.model_copy(update={"id": existing.id, "created_at": current.created_at})
        fresh = carry_geocoded(current, fresh)
        changes = changed_fields(current, fresh)
        if "consent" in changes:  # a narrower consent withdraws the lead from partners first
            how = source_withdrawal(session)  # the policy's privacy.consent_withdrawal
            change_consent(session, existing.id, fresh.consent, actor=actor, how=how)
        if changes:
            service.update_data(
                existing.id,
                fresh,
                actor=actor,
                source_system=connection,
                idempotency_key=key,
                changed=changes,
            )
        if existing.state == LeadState.NURTURE.value and fresh.is_qualified and not current.is_qualified:
            # Recycling: a nurtured lead that qualifies later is routed like a new one. Only a
            # stage that *became* MQL/SQL counts: a lead a partner returned as "not a lead" keeps
            # its MQL stage, and any later version of it (our own write-back changes its stamp)
            # must not send it round again.
            service.apply(
                existing.id,
                EventKind.QUALIFY,
                actor=actor,
                source_system=connection,
                idempotency_key=f"requalify:{existing.id}:{stamp}",
                payload={"stage": str(fresh.stage), "recycled": True},
            )
        result = IntakeResult.UPDATED if changes else IntakeResult.UNCHANGED
        lead_id = existing.id
    _remember(session, connection, lead.external_id, stamp, lead_id, clock)
    return Intake(lead_id, result)


def unknown_external_ids(session: Session, connection: str, external_ids: Iterable[str]) -> set[str]:
    """Those of ``external_ids`` that no lead of ``connection`` has yet (one query)."""
    wanted = set(external_ids)
    if not wanted:
        return set()
    known = session.execute(
        select(LeadRow.external_id).where(
            LeadRow.source_connection == connection, LeadRow.external_id.in_(sorted(wanted))
        )
    ).scalars()
    return wanted - set(known)


def _remember(
    session: Session, connection: str, external_id: str, stamp: str, lead_id: str, clock: Clock
) -> None:
    row = IntakeRow(
        connection=connection, external_id=external_id, stamp=stamp, lead_id=lead_id, received_at=clock()
    )
    if current_batch(session) is not None:  # a duplicate fails the batch's one flush instead
        session.add(row)
        return
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass  # another writer recorded the same version first: nothing to add


@dataclass(frozen=True)
class NewLead:
    """A lead known to be new (see ``unknown_external_ids``) with its JSON dump and content stamp
    (both of the lead as the source sent it, before geocoding)."""

    lead: Lead
    data: dict[str, Any]
    stamp: str
    # a closed lead's past and the partner that held it (``core/history.py``): taken in at its
    # start and closed, all events marked ``history``
    history: History | None = None
    partner_id: str | None = None


def insert_new(session: Session, new: list[NewLead], *, actor: str, clock: Clock = utcnow) -> list[Intake]:
    """Write exactly the rows ``take_in`` writes for new leads — the lead, its ``receive`` and
    ``qualify``/``nurture`` events, the intake record — with one multi-row insert per table.

    A ``NewLead`` with a history also gets the rows ``record_history`` appends (``history_rows``:
    its events, its offer, the lead closed) and is taken in at the history's start, its intake
    events marked ``history`` — what ``take_in`` with ``marks`` then ``record_history`` write.

    No ORM objects: a bulk path for imports (``sync/bulk_intake.py``), which falls back to
    ``take_in`` when session hooks must see the events (sync targets) or when an insert fails (a
    concurrent writer: the unique keys on external id and idempotency key catch it).
    """
    chunk_now = clock()
    leads: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    intakes: list[dict[str, Any]] = []
    offers: list[dict[str, Any]] = []
    # the enum values once, not per lead (Enum.value is a Python-level descriptor)
    received, qualified, nurture = (
        LeadState.RECEIVED.value,
        LeadState.QUALIFIED.value,
        LeadState.NURTURE.value,
    )
    receive, qualify_kind, nurture_kind = (
        EventKind.RECEIVE.value,
        EventKind.QUALIFY.value,
        EventKind.NURTURE.value,
    )
    for item in new:
        past = item.history if item.partner_id is not None else None
        now = past.started_at if past is not None else chunk_now
        marks = {"history": True} if past is not None else {}
        lead, place = geocode_lead(item.lead)  # as take_in: after the stamp, which is the source's
        data = lead.model_dump(mode="json") if place else item.data
        connection = lead.source_connection
        assert lead.external_id is not None
        is_qualified = lead.is_qualified
        qualify = qualify_kind if is_qualified else nurture_kind
        state = qualified if is_qualified else nurture
        leads.append(
            {
                "id": lead.id,
                "source_connection": connection,
                "external_id": lead.external_id,
                "state": state,
                "partner_id": None,
                "round": 0,
                "data": data,
                "version": 2,
                "created_at": now,
                "updated_at": now,
                "state_changed_at": now,
                **projection_columns(lead),
            }
        )
        common = {
            "lead_id": lead.id,
            "actor": actor,
            "occurred_at": now,
            "partner_id": None,
            "offer_id": None,
        }
        events.append(
            common
            | {
                "id": new_id("E"),
                "seq": 1,
                "kind": receive,
                "from_state": None,
                "to_state": received,
                "source_system": connection,
                "idempotency_key": f"intake:{connection}:{lead.external_id}:{item.stamp}",
                "payload": ({"geocoded": place.describe()} if place else {}) | marks,
            }
        )
        events.append(
            common
            | {
                "id": new_id("E"),
                "seq": 2,
                "kind": qualify,
                "from_state": received,
                "to_state": state,
                "source_system": "leadbridge",
                "idempotency_key": f"{qualify}:{lead.id}",
                "payload": {"stage": lead.stage.value, **marks},
            }
        )
        if past is not None and item.partner_id is not None:
            done, offer, closed = history_rows(
                lead.id, connection, LeadState(state), past, item.partner_id, seq=2
            )
            events += done
            offers.append(offer)
            leads[-1].update(closed)
        intakes.append(
            {
                "connection": connection,
                "external_id": lead.external_id,
                "stamp": item.stamp,
                "lead_id": lead.id,
                "received_at": now,
            }
        )
    if new:
        # driver-level executemany (core/store/bulk.py); ORM-entity inserts would go row by row here
        db = session.connection()
        for model, rows in (
            (LeadRow, leads),
            (LeadEventRow, events),
            (OfferRow, offers),
            (IntakeRow, intakes),
        ):
            insert_rows(db, cast(Table, model.__table__), rows)
    return [Intake(item.lead.id, IntakeResult.CREATED) for item in new]
