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
- an erased lead is never filled again: a later version of its source record changes nothing
  (its external id is kept after erasure for exactly this).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core.event_batch import current_batch
from leadbridge.core.geocode import carry_geocoded, geocode_lead
from leadbridge.core.leads import Clock, LeadService, lead_from_row
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import Lead, utcnow
from leadbridge.core.store.tables import IntakeRow, LeadRow


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
    data = lead.model_dump(mode="json", exclude=_NOT_SOURCE_DATA)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]


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
) -> Intake:
    """Record one source version of a lead per the module rules.

    ``known_new``: the caller established (in one query for a whole page, see ``unknown_external_ids``)
    that no lead has this external id yet, so the per-record lookups are skipped.
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
        service.receive(
            lead,
            actor=actor,
            source_system=connection,
            idempotency_key=key,
            payload={"geocoded": place.describe()} if place else None,
        )
        qualify = EventKind.QUALIFY if lead.is_qualified else EventKind.NURTURE
        service.apply(
            lead.id,
            qualify,
            actor=actor,
            source_system="leadbridge",
            idempotency_key=f"{qualify.value}:{lead.id}",
            payload={"stage": lead.stage.value},
        )
        result, lead_id = IntakeResult.CREATED, lead.id
    else:
        current = lead_from_row(existing)
        fresh = lead.model_copy(update={"id": existing.id, "created_at": current.created_at})
        fresh = carry_geocoded(current, fresh)
        changes = changed_fields(current, fresh)
        if changes:
            service.update_data(
                existing.id,
                fresh,
                actor=actor,
                source_system=connection,
                idempotency_key=key,
                changed=changes,
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
