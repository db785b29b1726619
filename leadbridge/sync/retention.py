"""Retention: a lead's personal data is purged N days after its last change in a state (policy).

Rules:
- ``privacy.retention_days`` maps a state to days (``{rejected: 30, nurture: 365, closed: 730}``); a
  lead in such a state whose last change is older than that is *due* (``due_for_retention``, an
  indexed query over stored state — a predicate the reconcile sweep can run as it is);
- a due lead is erased exactly as by ``leadbridge leads erase`` (``sync/erasure.py``): actor
  ``retention``, reason naming the state and the days, recipients told through the outbox, audited;
- ``purge_expired`` takes at most ``limit`` leads per call (oldest first), each in its own
  transaction, so one pass stays short and a failure of one lead never blocks the others;
- the reconcile loop finds due leads by itself (``due_since``: one indexed query per state) and
  publishes the ``purge_expired`` step (``sync/work.py``), so retention needs no cron job and a
  missed sweep only delays it; ``leadbridge leads purge-expired`` runs the same pass by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.privacy import audit
from leadbridge.core.privacy.config import Privacy
from leadbridge.core.privacy.dbfile import purge_freed
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sync.erasure import ErasureReport, erase_lead
from leadbridge.sync.projector import SyncTargets

ACTOR = "retention"
log = logging.getLogger(__name__)


def due_for_retention(
    session: Session, retention_days: Mapping[str, int], now: datetime, *, limit: int = 100
) -> list[tuple[str, str]]:
    """``(lead id, state)`` of leads past their state's retention, oldest change first."""
    if not retention_days:
        return []
    expired = or_(
        *(
            and_(LeadRow.state == state, LeadRow.updated_at < now - timedelta(days=days))
            for state, days in sorted(retention_days.items())
        )
    )
    rows = session.execute(
        select(LeadRow.id, LeadRow.state).where(expired).order_by(LeadRow.updated_at, LeadRow.id).limit(limit)
    )
    return [(lead_id, state) for lead_id, state in rows]


def due_since(session: Session, retention_days: Mapping[str, int], now: datetime) -> datetime | None:
    """Since when the longest-expired lead has been due for retention (``None``: nothing is due).

    One query per configured state on ``ix_leads_state_updated``: the oldest change in that state
    before its cutoff."""
    found: list[datetime] = []
    for state, days in sorted(retention_days.items()):
        keep = timedelta(days=days)
        oldest = session.execute(
            select(func.min(LeadRow.updated_at)).where(
                LeadRow.state == state, LeadRow.updated_at < now - keep
            )
        ).scalar()
        if oldest is not None:
            found.append(oldest + keep)
    return min(found, default=None)


def purge_expired(
    database: Database, privacy: Privacy, targets: SyncTargets, now: datetime, *, limit: int = 100
) -> list[ErasureReport]:
    """Erase every lead due for retention (module rules); the reports of those erased."""
    with database.transaction() as session:
        due = due_for_retention(session, privacy.retention_days, now, limit=limit)
    reports: list[ErasureReport] = []
    for lead_id, state in due:
        reason = f"retention: {state} for {privacy.retention_days[state]} days"
        try:
            with database.transaction() as session:
                report = erase_lead(
                    session,
                    lead_id,
                    actor=ACTOR,
                    reason=reason,
                    rules=privacy.erasure,
                    targets=targets,
                    now=now,
                )
                audit.record(
                    session, actor=ACTOR, channel="system", action="erase", at=now, lead_id=lead_id,
                    detail={"reason_code": "retention", "state": state},
                )  # fmt: skip
        except LeadbridgeError as error:
            log.warning("retention: %s not erased this pass: %s", lead_id, error)
            continue  # e.g. a lead changed meanwhile; the next pass looks again
        reports.append(report)
    if reports:
        purge_freed(database)
    return reports
