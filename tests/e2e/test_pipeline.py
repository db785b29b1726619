"""End to end over sandbox orgs and the real client: 1,000 leads from the manufacturer's Salesforce
to partner orgs and back, idempotent re-runs, and convergence after an interrupted run."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.sandbox.clients import salesforce_client
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sync.cycle import CycleReport, SyncEngine
from leadbridge.sync.outbox import OutboxSettings
from tests.connectors.sandbox_salesforce import add_leads
from tests.sync.world import World, a_world

STATUSES = ("Accepted", "Closed - Converted", "Closed - Not Converted", "Working - Contacted")
EXPECTED = {
    "Accepted": ("Accepted", None),
    "Closed - Converted": ("Won", "Won"),
    "Closed - Not Converted": ("Lost", "Lost"),
    "Working - Contacted": ("Working", None),
}


def run(engine: SyncEngine) -> CycleReport:
    report = engine.run()
    assert not report.errors and not report.stopped, report.as_dict()
    return report


def copies(org: SalesforceOrg) -> list[dict[str, Any]]:
    return [r for r in org.records("Lead") if r.get("LeadBridge_Id__c")]


def partners_decide(world: World) -> dict[str, str]:
    """Each partner sets a status on every lead in its org through the real client; lead id → status."""
    decided: dict[str, str] = {}
    for org in world.partner_orgs.values():
        sf = salesforce_client(org, world.box.ca_file, flow="soap")
        records = sf.query_all("SELECT Id, LeadBridge_Id__c FROM Lead WHERE LeadBridge_Id__c != null")[
            "records"
        ]
        updates = []
        for number, record in enumerate(sorted(records, key=lambda r: r["Id"])):
            status = STATUSES[number % len(STATUSES)]
            extra = {"LeadBridge_Expected_Revenue__c": 10_000.0} if status == "Closed - Converted" else {}
            updates.append({"attributes": {"type": "Lead"}, "id": record["Id"], "Status": status, **extra})
            decided[record["LeadBridge_Id__c"]] = status
        for start in range(0, len(updates), 200):
            results = sf.restful(
                "composite/sobjects",
                method="PATCH",
                json={"allOrNone": True, "records": updates[start : start + 200]},
            )
            assert all(item["success"] for item in results)
    return decided


def no_duplicates(world: World) -> None:
    for name, org in world.partner_orgs.items():
        ids = Counter(r["LeadBridge_Id__c"] for r in copies(org))
        assert not [i for i, n in ids.items() if n > 1], f"duplicates in {name}"
    home_ids = Counter(r["LeadBridge_Id__c"] for r in world.home.records("Lead") if r.get("LeadBridge_Id__c"))
    assert not [i for i, n in home_ids.items() if n > 1]


def outbox_settled(database: Database) -> None:
    with database.transaction() as session:
        open_rows = session.execute(select(func.count()).where(OutboxRow.status != "sent")).scalar_one()
    assert open_rows == 0


@pytest.mark.slow
def test_given_1000_leads_when_synced_then_every_lead_shows_its_partner_status_and_outcome(
    sqlite_url: str,
) -> None:
    database = Database(sqlite_url)
    with a_world(database, partners=3) as world:
        for _ in range(10):  # ten groups of 100 sharing one SystemModstamp each
            add_leads(world.home, 100, same_stamp=True)
        engine = world.engine(router=None)  # the real router, default policy
        first = run(engine)
        assert first.pulled[0].created == 1000 and first.routed == 1000
        assert sum(len(copies(org)) for org in world.partner_orgs.values()) == 1000
        decided = partners_decide(world)
        assert len(decided) == 1000
        run(engine)
        names = {p.id: p.name for p in _partners(database)}
        holder = {lead.id: names[lead.partner_id] for lead in world.leads() if lead.partner_id}
        home = [r for r in world.home.records("Lead") if r.get("LeadBridge_Id__c")]
        assert len(home) == 1000
        for record in home:
            lead_id = record["LeadBridge_Id__c"]
            status, outcome = EXPECTED[decided[lead_id]]
            assert (record["LeadBridge_Status__c"], record["LeadBridge_Outcome__c"]) == (status, outcome)
            assert record["LeadBridge_Partner__c"] == holder[lead_id]
        counts = {name: len(copies(org)) for name, org in world.partner_orgs.items()}
        before = len(world.home.records("Lead"))
        run(engine)  # the echoes of the write-back
        idle = run(engine)
        assert [f.written for f in [*idle.delivered, *idle.written_back]] == [0, 0, 0, 0]
        assert idle.pulled[0].read == 0 and idle.routed == 0
        assert {name: len(copies(org)) for name, org in world.partner_orgs.items()} == counts
        assert len(world.home.records("Lead")) == before
        no_duplicates(world)
        outbox_settled(database)


def _partners(database: Database) -> list[Any]:
    from leadbridge.core.store.tables import PartnerRow

    with database.transaction() as session:
        return list(session.execute(select(PartnerRow)).scalars())


def test_given_an_interrupted_run_when_synced_again_then_it_converges_without_loss_or_duplicates(
    database: Database,
) -> None:
    with a_world(database, partners=2) as world:
        for _ in range(3):
            add_leads(world.home, 100, same_stamp=True)
        p1, p2 = world.partner_orgs["p1"], world.partner_orgs["p2"]
        world.home.faults.set("collections.update", error_rate=1.0, error="unavailable")  # write-back down
        world.home.faults.set("queryAll", error_rate=0.3, error="lock")
        p1.faults.set("collections.upsert", error_rate=0.4, error="server_error")
        p1.faults.expire_session_after(3)
        p2.faults.quota.set(p2.faults.quota.used + 1)  # p2's daily allocation runs out mid-run
        engine = world.engine(router=None, page_size=200)
        engine.outbox_settings = OutboxSettings(max_attempts=50)
        interrupted = engine.run()
        stopped = interrupted.stopped
        assert "home: error" in stopped and "p2: quota" in stopped, stopped
        for org in (world.home, p1, p2):
            org.faults.clear()
        p2.faults.quota.set(None)
        _release_backoff(database)
        for _ in range(3):
            world.engine(router=None).run()
            _release_backoff(database)
        final = run(world.engine(router=None))
        assert [f.written for f in [*final.delivered, *final.written_back]] == [0, 0, 0]
        leads = world.leads()
        assert len(leads) == 300
        assert sum(len(copies(org)) for org in world.partner_orgs.values()) == 300
        home = [r for r in world.home.records("Lead") if r.get("LeadBridge_Id__c")]
        assert len(home) == 300 and all(r["LeadBridge_Status__c"] == "Offered" for r in home)
        no_duplicates(world)
        outbox_settled(database)


def _release_backoff(database: Database) -> None:
    """Make every waiting outbox row due now (the backoff would otherwise wait minutes)."""
    from sqlalchemy import update

    from leadbridge.core.model import utcnow

    with database.transaction() as session:
        session.execute(
            update(OutboxRow).where(OutboxRow.status == "pending").values(next_attempt_at=utcnow())
        )
