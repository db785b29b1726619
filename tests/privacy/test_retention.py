"""Retention: leads past their state's retention are erased, the others are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.privacy import audit
from leadbridge.core.privacy.config import Privacy
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OutboxRow
from leadbridge.jobs.runner import execute
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync import outbox, reconcile
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.retention import due_for_retention, purge_expired
from leadbridge.sync.steps import FLUSH_OUTBOX, PURGE_EXPIRED, RECONCILE, Followup
from tests.builders import a_lead

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _lead(
    database: Database,
    *,
    stage: str,
    days_ago: float,
    close: bool = False,
    source_connection: str = "test",
    at: datetime = NOW,
) -> str:
    lead = a_lead(stage=stage, source_connection=source_connection)
    with database.transaction() as session:
        take_in(session, lead)
        if close:
            LeadService(session).apply(
                lead.id, EventKind.CLOSE, actor="t", idempotency_key=f"close:{lead.id}"
            )
        session.execute(
            update(LeadRow).where(LeadRow.id == lead.id).values(updated_at=at - timedelta(days=days_ago))
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


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self.sent.append((step, tuple(args)))


def _runtime(db_url: str, tmp_path: Path, policy_text: str) -> Runtime:
    policy = tmp_path / "policy.yaml"
    policy.write_text(policy_text)
    settings = Settings(
        database_url=db_url,
        policy=str(policy),
        connections={"home": SalesforceConfig(role="manufacturer", poll_seconds=30)},
    )
    # the home CRM is a target: an erased lead from it gets an ``erase`` row there
    return build_runtime(
        settings, dispatcher=Recorder(), targets=SyncTargets(manufacturer=frozenset({"home"}))
    )


def test_given_an_expired_lead_then_the_reconcile_sweep_finds_it_and_its_step_purges_it(
    db_url: str, tmp_path: Path
) -> None:
    rt = _runtime(
        db_url,
        tmp_path,
        "version: 1\nprivacy:\n  erasure: {home: true}\n  retention_days: {nurture: 30}\n",
    )
    now = datetime.now(UTC)
    old = _lead(rt.db, stage="lead", days_ago=31, source_connection="home", at=now)
    young = _lead(rt.db, stage="lead", days_ago=29, source_connection="home", at=now)

    with rt.db.transaction() as session:
        [due] = list(reconcile.due_retention(session, now, rt.settings))
    assert due.step == PURGE_EXPIRED and due.args == ()
    assert abs((due.since - (now - timedelta(days=1))).total_seconds()) < 5  # due for a day

    followups = execute(rt.context(), RECONCILE, ())
    assert Followup(PURGE_EXPIRED) in followups  # the sweep publishes the purge: level-triggered

    purged = execute(rt.context(), PURGE_EXPIRED, ())
    assert purged == [Followup(FLUSH_OUTBOX, ("home",))]  # the home CRM is told next
    with rt.db.transaction() as session:
        rows = {row.id: row for row in session.query(LeadRow)}
        assert rows[old].state == "erased" and rows[old].email is None
        assert rows[young].state == "nurture" and rows[young].email
        [erase_row] = session.query(OutboxRow).filter_by(lead_id=old, kind="erase").all()
        assert erase_row.target == "home" and erase_row.payload["how"] == "anonymise"
        assert [e.actor for e in LeadService(session).events(old) if e.kind == "erase"] == ["retention"]
        assert list(reconcile.due_retention(session, now, rt.settings)) == []
    assert Followup(PURGE_EXPIRED) not in execute(rt.context(), RECONCILE, ())
    assert execute(rt.context(), PURGE_EXPIRED, ()) == []  # a stray second run finds nothing


def test_given_a_policy_without_retention_or_a_broken_one_then_nothing_is_purged_and_the_sweep_goes_on(
    db_url: str, tmp_path: Path
) -> None:
    rt = _runtime(db_url, tmp_path, "version: 1\n")
    now = datetime.now(UTC)
    _lead(rt.db, stage="lead", days_ago=4000, at=now)
    with rt.db.transaction() as session:
        assert list(reconcile.due_retention(session, now, rt.settings)) == []
    (tmp_path / "policy.yaml").write_text("version: 1\nprivacy:\n  retention_days: {nurture: 0}\n")
    with rt.db.transaction() as session:
        assert list(reconcile.due_retention(session, now, rt.settings)) == []  # refused, logged
    with rt.db.transaction() as session:
        outbox.enqueue(
            session, target="home", kind="k", lead_id=None, idempotency_key="x", payload={}, now=now
        )
    assert Followup(FLUSH_OUTBOX, ("home",)) in execute(rt.context(), RECONCILE, ())
