"""Retention: leads past their state's retention are erased, the others are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.privacy import audit
from leadbridge.core.privacy.config import Privacy
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.retention import due_for_retention, purge_expired
from tests.builders import a_lead

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _lead(database: Database, *, stage: str, days_ago: float, close: bool = False) -> str:
    lead = a_lead(stage=stage)
    with database.transaction() as session:
        take_in(session, lead)
        if close:
            LeadService(session).apply(
                lead.id, EventKind.CLOSE, actor="t", idempotency_key=f"close:{lead.id}"
            )
        session.execute(
            update(LeadRow).where(LeadRow.id == lead.id).values(updated_at=NOW - timedelta(days=days_ago))
        )
    return lead.id


def test_given_retention_per_state_when_purged_then_only_expired_leads_are_erased(database: Database) -> None:
    old_nurture = _lead(database, stage="lead", days_ago=40)
    young_nurture = _lead(database, stage="lead", days_ago=5)
    old_closed = _lead(database, stage="lead", days_ago=11, close=True)
    old_qualified = _lead(database, stage="mql", days_ago=400)  # no retention for qualified
    privacy = Privacy(retention_days={"nurture": 30, "closed": 10})
    with database.transaction() as session:
        due = due_for_retention(session, privacy.retention_days, NOW)
    assert due == [(old_nurture, "nurture"), (old_closed, "closed")]

    reports = purge_expired(database, privacy, SyncTargets(), NOW)
    assert sorted(r.lead_id for r in reports) == sorted([old_nurture, old_closed])
    with database.transaction() as session:
        states = {row.id: (row.state, row.email) for row in session.query(LeadRow)}
        assert states[old_nurture] == ("erased", None) and states[old_closed] == ("erased", None)
        assert states[young_nurture][0] == "nurture" and states[young_nurture][1]
        assert states[old_qualified][0] == "qualified" and states[old_qualified][1]
        erase_event = next(e for e in LeadService(session).events(old_nurture) if e.kind == "erase")
        assert (
            erase_event.actor == "retention"
            and erase_event.payload["reason"] == "retention: nurture for 30 days"
        )
        logged = audit.entries(session, actor="retention")
        assert {(r.lead_id, r.channel, r.detail["state"]) for r in logged} == {
            (old_nurture, "system", "nurture"), (old_closed, "system", "closed"),
        }  # fmt: skip
        assert due_for_retention(session, privacy.retention_days, NOW) == []
    assert purge_expired(database, privacy, SyncTargets(), NOW) == []
    assert purge_expired(database, Privacy(), SyncTargets(), NOW) == []
