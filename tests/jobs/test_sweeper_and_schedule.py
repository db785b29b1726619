"""The sweeper re-publishes due work from the database; the schedule follows the configuration."""

from __future__ import annotations

from datetime import timedelta

from leadbridge.connectors.csvkind import CsvConfig
from leadbridge.connectors.hubspot import HubSpotConfig
from leadbridge.connectors.inbox import InboxConfig
from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs import steps
from leadbridge.jobs.schedule import beat_schedule, schedule
from leadbridge.jobs.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD, Followup, JobContext
from leadbridge.jobs.sweeper import CLAIM_LEASE, due_work
from leadbridge.sync import outbox
from tests.builders import a_lead


def _queue(database: Database, target: str, key: str, *, due_in: timedelta = timedelta(0)) -> None:
    now = utcnow()
    with database.transaction() as session:
        outbox.enqueue(
            session, target=target, kind="k", lead_id=None, idempotency_key=key, payload={}, now=now
        )
    if due_in:
        with database.transaction() as session:
            for row in outbox.list_rows(session, target=target):
                row.next_attempt_at = now + due_in


def test_given_due_future_and_stale_outbox_rows_then_only_due_and_stale_targets_are_flushed(
    ctx: JobContext, database: Database
) -> None:
    _queue(database, "due", "a")
    _queue(database, "later", "b", due_in=timedelta(minutes=5))
    _queue(database, "stale", "c")
    _queue(database, "fresh-claim", "d")
    now = utcnow()
    with database.transaction() as session:
        outbox.claim(
            session, "stale", worker="dead:1", now=now - CLAIM_LEASE - timedelta(seconds=1), limit=10
        )
        outbox.claim(session, "fresh-claim", worker="alive:1", now=now, limit=10)
    work = due_work(ctx, now=now)
    assert [f for f in work if f.step == FLUSH_OUTBOX] == [
        Followup(FLUSH_OUTBOX, ("due",)),
        Followup(FLUSH_OUTBOX, ("stale",)),
    ]


def test_given_a_lead_left_qualified_then_routing_runs_after_the_grace_period(
    ctx: JobContext, database: Database
) -> None:
    lead = a_lead()
    with database.transaction() as session:
        service = LeadService(session)
        service.receive(lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}")
        service.apply(lead.id, EventKind.QUALIFY, actor="t", idempotency_key=f"q:{lead.id}")
    assert [f for f in due_work(ctx) if f.step == ROUTE_LEAD] == []  # its kick is still on the way
    with database.transaction() as session:
        session.get_one(LeadRow, lead.id).updated_at = utcnow() - timedelta(minutes=1)
    assert [f for f in due_work(ctx) if f.step == ROUTE_LEAD] == [Followup(ROUTE_LEAD, (ROUTE_ALL,))]


def test_the_sweep_step_is_wired_and_returns_the_due_work(ctx: JobContext, database: Database) -> None:
    _queue(database, "home", "x")
    assert steps.resolve(steps.SWEEP)(ctx) == [Followup(FLUSH_OUTBOX, ("home",))]


def test_the_schedule_polls_crm_connections_by_role_and_runs_the_housekeeping_steps() -> None:
    settings = Settings(
        connections={
            "home": SalesforceConfig(role="manufacturer", poll_seconds=30),
            "acme": HubSpotConfig(role="partner", poll_seconds=120),
            "upload": CsvConfig(),
            "inbox": InboxConfig(),
        }
    )
    entries = {e.name: e for e in schedule(settings)}
    assert entries["poll_source:home"].args == ("home",) and entries["poll_source:home"].every_s == 30
    assert (
        entries["poll_partner:acme"].step == steps.POLL_PARTNER
        and entries["poll_partner:acme"].every_s == 120
    )
    assert not any("upload" in name or "inbox" in name for name in entries)
    assert {steps.SLA_TICK, steps.SWEEP} <= set(entries)
    beat = beat_schedule(settings)
    assert beat["poll_source:home"] == {
        "task": "leadbridge.poll_source",
        "schedule": 30.0,
        "args": ["home"],
        "options": {"expires": 30.0},
    }
