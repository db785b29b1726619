"""The reconcile loop: each predicate finds exactly the due work of its kind, with an index; a sweep
records itself, publishes through the dispatcher, and a second sweep at the same moment does nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from leadbridge.connectors.csvkind import CsvConfig
from leadbridge.connectors.hubspot import HubSpotConfig
from leadbridge.connectors.inbox import InboxConfig
from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs.runner import execute
from leadbridge.jobs.schedule import beat_schedule, schedule
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync import outbox, reconcile, timers
from leadbridge.sync.leases import lease
from leadbridge.sync.reconcile import CLAIM_LEASE, ROUTE_GRACE, Due
from leadbridge.sync.steps import (
    FLUSH_OUTBOX,
    POLL_PARTNER,
    POLL_SOURCE,
    RECONCILE,
    ROUTE_ALL,
    ROUTE_LEAD,
    SLA_TICK,
    Followup,
)
from tests.builders import a_lead, a_partner, lead_in_state


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self.sent.append((step, tuple(args)))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    policy = tmp_path / "policy.yaml"  # retention configured, so its predicate queries too
    policy.write_text("version: 1\nprivacy:\n  retention_days: {nurture: 30, closed: 365}\n")
    return Settings(
        database_url=db_url,
        policy=str(policy),
        connections={
            "home": SalesforceConfig(role="manufacturer", poll_seconds=30),
            "acme": HubSpotConfig(role="partner", poll_seconds=120),
            "upload": CsvConfig(),
            "inbox": InboxConfig(),
        },
    )


@pytest.fixture
def rt(settings: Settings) -> Runtime:
    # No targets: these tests count outbox rows they queue themselves.
    from leadbridge.sync.projector import SyncTargets

    return build_runtime(settings, dispatcher=Recorder(), targets=SyncTargets())


@pytest.fixture
def database(rt: Runtime) -> Database:
    return rt.db


def due(rt: Runtime, predicate: Any, *, at: Any = None) -> list[Due]:
    with rt.db.transaction() as session:
        return list(predicate(session, at or utcnow(), rt.settings))


def _age_state(database: Database, lead_id: str, by: timedelta) -> None:
    with database.transaction() as session:
        session.get_one(LeadRow, lead_id).state_changed_at = utcnow() - by


def _queue(database: Database, target: str, key: str, *, due_in: timedelta = timedelta(0)) -> None:
    now = utcnow()
    with database.transaction() as session:
        outbox.enqueue(
            session, target=target, kind="k", lead_id=None, idempotency_key=key, payload={}, now=now
        )
    if due_in:
        with database.transaction() as session:
            for row in outbox.list_rows(session, target=target):
                if row.idempotency_key == key:
                    row.next_attempt_at = now + due_in


# -- waiting leads -------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [LeadState.QUALIFIED, LeadState.ROUTING, LeadState.RETURNED])
def test_given_a_lead_waiting_on_the_router_then_routing_is_due_only_after_the_grace(
    rt: Runtime, state: LeadState
) -> None:
    with rt.db.transaction() as session:
        lead_id = lead_in_state(session, state)
    assert due(rt, reconcile.waiting_leads) == []  # its kick is still on the way
    _age_state(rt.db, lead_id, ROUTE_GRACE + timedelta(seconds=1))
    assert [(d.step, d.args) for d in due(rt, reconcile.waiting_leads)] == [(ROUTE_LEAD, (ROUTE_ALL,))]


@pytest.mark.parametrize("state", [LeadState.ACCEPTED, LeadState.WORKING, LeadState.WON, LeadState.NURTURE])
def test_given_a_lead_where_a_person_acts_or_at_its_end_then_nothing_is_due(
    rt: Runtime, state: LeadState
) -> None:
    with rt.db.transaction() as session:
        lead_id = lead_in_state(session, state)
    _age_state(rt.db, lead_id, timedelta(hours=1))
    assert due(rt, reconcile.waiting_leads) == []


def test_grace_is_keyed_on_the_state_change_not_on_later_updates(rt: Runtime) -> None:
    with rt.db.transaction() as session:
        lead_id = lead_in_state(session, LeadState.QUALIFIED)
    _age_state(rt.db, lead_id, timedelta(minutes=5))
    with rt.db.transaction() as session:  # a data update (a re-pull) touches the row, not its state
        session.get_one(LeadRow, lead_id).updated_at = utcnow()
    (item,) = due(rt, reconcile.waiting_leads)
    assert utcnow() - item.since >= timedelta(minutes=5)


def _offered(database: Database) -> tuple[str, str, str]:
    with database.transaction() as session:
        partner_a, partner_b = a_partner(session).id, a_partner(session).id
        lead = a_lead()
        service = LeadService(session)
        service.receive(lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}")
        service.apply(lead.id, EventKind.QUALIFY, actor="t", idempotency_key=f"q:{lead.id}")
        service.apply(lead.id, EventKind.ROUTE, actor="t", idempotency_key=f"route:{lead.id}")
        offers = OfferService(session)
        first, _ = offers.create(lead.id, partner_a, round=1, mode="offer_n", deadline=None, decision={})
        second, _ = offers.create(lead.id, partner_b, round=1, mode="offer_n", deadline=None, decision={})
    return lead.id, first.id, second.id


def test_given_an_offered_lead_then_routing_is_due_once_no_offer_is_open(rt: Runtime) -> None:
    _lead_id, first, second = _offered(rt.db)
    with rt.db.transaction() as session:
        OfferService(session).decline(first, actor="partner", reason_code="no_capacity")
    assert due(rt, reconcile.waiting_leads) == []  # the second offer is still pending
    with rt.db.transaction() as session:
        OfferService(session).decline(second, actor="partner", reason_code="no_capacity")
    assert [d.step for d in due(rt, reconcile.waiting_leads)] == [ROUTE_LEAD]


# -- outbox ----------------------------------------------------------------------------------


def test_given_due_future_and_stale_outbox_rows_then_only_due_and_stale_targets_are_flushed(
    rt: Runtime,
) -> None:
    _queue(rt.db, "due", "a")
    _queue(rt.db, "later", "b", due_in=timedelta(minutes=5))
    _queue(rt.db, "stale", "c")
    _queue(rt.db, "fresh-claim", "d")
    now = utcnow()
    with rt.db.transaction() as session:
        outbox.claim(session, "stale", worker="dead:1", now=now, limit=10)
        outbox.claim(session, "fresh-claim", worker="alive:1", now=now, limit=10)
        session.execute(
            text("UPDATE outbox SET claimed_at = :at WHERE target = 'stale'"),
            {"at": now - CLAIM_LEASE - timedelta(seconds=1)},
        )
    assert [d.args for d in due(rt, reconcile.due_outbox, at=now)] == [("due",)]
    assert [d.args for d in due(rt, reconcile.stale_claims, at=now)] == [("stale",)]


# -- polls and the SLA tick ------------------------------------------------------------------------


def test_polls_are_due_for_crm_connections_until_their_timer_moves_on(rt: Runtime) -> None:
    now = utcnow()
    assert sorted((d.step, d.args) for d in due(rt, reconcile.due_polls, at=now)) == [
        (POLL_PARTNER, ("acme",)),
        (POLL_SOURCE, ("home",)),
    ]  # never polled: at once; CSV and inbox push, so they are never polled
    with rt.db.transaction() as session:
        timers.start(session, timers.poll_timer("home"), now=now, every_s=30)
    assert [d.args for d in due(rt, reconcile.due_polls, at=now)] == [("acme",)]
    assert [d.args for d in due(rt, reconcile.due_polls, at=now + timedelta(seconds=31))] == [
        ("acme",),
        ("home",),
    ]


def test_the_sla_tick_is_due_for_an_offer_past_its_deadline_or_on_its_timer(rt: Runtime) -> None:
    assert due(rt, reconcile.due_sla) == []  # nothing watched
    _lead_id, first, _second = _offered(rt.db)
    now = utcnow()
    with rt.db.transaction() as session:
        timers.start(session, timers.SLA, now=now, every_s=30)
    assert due(rt, reconcile.due_sla, at=now) == []
    assert [d.step for d in due(rt, reconcile.due_sla, at=now + timedelta(seconds=31))] == [SLA_TICK]
    with rt.db.transaction() as session:
        session.execute(text("UPDATE offers SET deadline = :d WHERE id = :i"), {"d": now, "i": first})
    assert [d.step for d in due(rt, reconcile.due_sla, at=now + timedelta(seconds=1))] == [SLA_TICK]


# -- the sweep ------------------------------------------------------------------------------------


def test_a_sweep_publishes_each_due_item_once_through_the_dispatcher_and_records_itself(rt: Runtime) -> None:
    _queue(rt.db, "home", "x")
    _queue(rt.db, "home", "y")
    recorder = rt.dispatcher.target
    assert isinstance(recorder, Recorder)
    recorder.sent.clear()  # what the inserts kicked
    followups = execute(rt.context(), RECONCILE, ())
    assert Followup(FLUSH_OUTBOX, ("home",)) in followups and len(followups) == len(set(followups))
    assert recorder.sent.count((FLUSH_OUTBOX, ("home",))) == 1
    snap = take_snapshot(rt.db)
    assert snap.last_sweep_age_s is not None and snap.last_sweep_age_s < 60
    assert snap.due_at_last_sweep == len(followups) and snap.oldest_due_age_s is not None


def test_given_a_sweep_in_progress_then_a_second_sweep_publishes_nothing(rt: Runtime) -> None:
    _queue(rt.db, "home", "x")
    with lease(rt.db, "reconcile") as held:
        assert held
        assert reconcile.reconcile(rt.context()) == []
    assert reconcile.reconcile(rt.context()) != []


def test_the_schedule_is_one_reconcile_entry_for_beat_and_the_embedded_scheduler(settings: Settings) -> None:
    assert [(e.step, e.args) for e in schedule(settings)] == [(RECONCILE, ())]
    assert list(beat_schedule(settings)) == [RECONCILE]


# -- every predicate is an indexed query -------------------------------------------------------------


@pytest.fixture
def sqlite_rt(sqlite_url: str, settings: Settings) -> Runtime:
    from leadbridge.sync.projector import SyncTargets

    own = settings.model_copy(update={"database_url": sqlite_url})
    return build_runtime(own, dispatcher=Recorder(), targets=SyncTargets())


@pytest.fixture
def statements(sqlite_rt: Runtime) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    engine = sqlite_rt.db.engine
    event.listen(engine, "before_cursor_execute", capture)
    yield seen
    event.remove(engine, "before_cursor_execute", capture)


@pytest.mark.parametrize("predicate", reconcile.PREDICATES, ids=lambda p: p.__name__)
def test_every_predicate_reads_through_an_index(
    sqlite_rt: Runtime, statements: list[tuple[str, Any]], predicate: Any
) -> None:
    """Read with SQLite's EXPLAIN QUERY PLAN: no predicate scans a whole leads/outbox/offers/timers table."""
    rt = sqlite_rt
    _offered(rt.db)
    _queue(rt.db, "home", "x")
    with rt.db.transaction() as session:
        timers.start(session, timers.SLA, now=utcnow() - timedelta(hours=1), every_s=1)
    statements.clear()
    due(rt, predicate)
    assert statements, "the predicate ran no query"
    with rt.db.engine.connect() as conn:
        for statement, parameters in statements:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            plan = " | ".join(row[-1] for row in rows)
            full_scans = [p for p in plan.split(" | ") if re.match(r"SCAN (leads|outbox|offers|timers)\b", p)]
            assert not full_scans, f"{predicate.__name__} scans a whole table: {plan}"
