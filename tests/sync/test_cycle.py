"""The sync cycle end to end over sandbox orgs: pull, route, deliver, partner statuses, write-back."""

from __future__ import annotations

from sqlalchemy import func, select

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, OutboxRow
from leadbridge.sync.cycle import CycleReport
from tests.connectors.sandbox_salesforce import add_leads, update_lead
from tests.sync.world import World, a_world


def by_lead_id(org, field: str = "LeadBridge_Id__c") -> dict[str, dict]:
    return {r[field]: r for r in org.records("Lead") if r.get(field)}


def events(database: Database, kind: EventKind) -> int:
    with database.transaction() as session:
        return session.execute(select(func.count()).where(LeadEventRow.kind == kind.value)).scalar_one()


def home_records(world: World) -> dict[str, dict]:
    return {r["Id"]: r for r in world.home.records("Lead")}


def test_given_qualified_leads_when_cycling_then_partners_get_blind_offers_and_home_sees_them(
    database: Database,
) -> None:
    with a_world(database) as world:
        ids = add_leads(world.home, 6, same_stamp=True)
        add_leads(world.home, 2, same_stamp=False, Lifecycle_Stage__c="Lead")  # not qualified: stays out
        report = world.engine().run()
        assert not report.errors and not report.stopped, report.as_dict()
        assert report.pulled[0].created == 6 and report.routed == 6
        copies = {**by_lead_id(world.partner_orgs["p1"]), **by_lead_id(world.partner_orgs["p2"])}
        assert len(copies) == 6
        for copy in copies.values():
            assert copy["LeadBridge_Status__c"] == "Offered" and copy["Email"] is None
            assert copy["LastName"].startswith("Lead ")
        home = home_records(world)
        assert all(home[i]["LeadBridge_Status__c"] == "Offered" for i in ids)
        assert all(home[i]["LeadBridge_Id__c"] in copies for i in ids)


def cycle(world: World) -> CycleReport:
    report = world.engine().run()
    assert not report.errors and not report.stopped, report.as_dict()
    return report


def test_given_partner_statuses_when_cycling_then_home_shows_partner_status_and_outcome(
    database: Database,
) -> None:
    with a_world(database) as world:
        ids = add_leads(world.home, 8, same_stamp=True)
        cycle(world)
        p1 = world.partner_orgs["p1"]
        copies = sorted(by_lead_id(p1).values(), key=lambda r: r["Id"])
        assert len(copies) == 4
        accepted, working, won, declined = copies
        update_lead(p1, accepted["Id"], {"Status": "Accepted"})
        update_lead(p1, working["Id"], {"Status": "Working - Contacted"})
        update_lead(
            p1, won["Id"], {"Status": "Closed - Converted", "LeadBridge_Expected_Revenue__c": 12500.0}
        )
        update_lead(p1, declined["Id"], {"Status": "Declined", "LeadBridge_Reason__c": "no_capacity"})
        report = cycle(world)
        assert report.partner_updates[0].events >= 6  # accept ×3, status, win, decline
        p1_after = by_lead_id(p1)
        assert p1_after[accepted["LeadBridge_Id__c"]]["Email"], "identity revealed after acceptance"
        assert p1_after[declined["LeadBridge_Id__c"]]["Email"] is None
        home = {r["LeadBridge_Id__c"]: r for r in home_records(world).values() if r.get("LeadBridge_Id__c")}
        assert home[accepted["LeadBridge_Id__c"]]["LeadBridge_Status__c"] == "Accepted"
        assert home[accepted["LeadBridge_Id__c"]]["LeadBridge_Partner__c"] == "Partner 1"
        assert home[working["LeadBridge_Id__c"]]["LeadBridge_Status__c"] == "Working"
        assert home[won["LeadBridge_Id__c"]]["LeadBridge_Outcome__c"] == "Won"
        assert float(home[won["LeadBridge_Id__c"]]["LeadBridge_Expected_Revenue__c"]) == 12500.0
        # the declined lead was offered to partner 2 in the same cycle
        assert declined["LeadBridge_Id__c"] in by_lead_id(world.partner_orgs["p2"])
        assert home[declined["LeadBridge_Id__c"]]["LeadBridge_Status__c"] == "Offered"
        assert len(ids) == 8


def test_given_nothing_changed_when_cycling_again_then_nothing_is_written_or_duplicated(
    database: Database,
) -> None:
    with a_world(database) as world:
        add_leads(world.home, 5, same_stamp=True)
        cycle(world)
        p1 = world.partner_orgs["p1"]
        first = next(iter(by_lead_id(p1).values()))
        update_lead(p1, first["Id"], {"Status": "Accepted"})
        cycle(world)
        counts = (
            len(world.home.records("Lead")),
            len(p1.records("Lead")),
            len(world.partner_orgs["p2"].records("Lead")),
        )
        with database.transaction() as session:
            event_count = session.execute(select(func.count()).select_from(LeadEventRow)).scalar_one()
        report = cycle(world)  # sees the echoes of the last cycle's writes
        report = cycle(world)
        assert [f.written for f in [*report.delivered, *report.written_back]] == [0, 0, 0]
        assert report.routed == 0
        assert (
            len(world.home.records("Lead")),
            len(p1.records("Lead")),
            len(world.partner_orgs["p2"].records("Lead")),
        ) == counts
        with database.transaction() as session:
            assert session.execute(select(func.count()).select_from(LeadEventRow)).scalar_one() == event_count
            pending = session.execute(select(func.count()).where(OutboxRow.status != "sent")).scalar_one()
        assert pending == 0


def test_given_someone_overwrites_a_leadbridge_field_then_a_conflict_is_recorded_and_ours_wins(
    database: Database,
) -> None:
    with a_world(database) as world:
        (record_id,) = add_leads(world.home, 1, same_stamp=False)
        cycle(world)
        update_lead(world.home, record_id, {"LeadBridge_Status__c": "Won"})
        report = cycle(world)
        assert report.pulled[0].conflicts == 1
        assert events(database, EventKind.CONFLICT) == 1
        assert home_records(world)[record_id]["LeadBridge_Status__c"] == "Offered"
        assert cycle(world).pulled[0].conflicts == 0


def test_given_a_partner_accepts_a_withdrawn_offer_then_it_is_a_conflict(database: Database) -> None:
    with a_world(database) as world:
        (record_id,) = add_leads(world.home, 1, same_stamp=False)
        cycle(world)
        holder, other = ("p1", "p2") if by_lead_id(world.partner_orgs["p1"]) else ("p2", "p1")
        copy = next(iter(by_lead_id(world.partner_orgs[holder]).values()))
        world.home.store.delete(world.home.store.object("Lead"), record_id)  # gone at home: offer withdrawn
        cycle(world)
        assert (
            by_lead_id(world.partner_orgs[holder])[copy["LeadBridge_Id__c"]]["LeadBridge_Status__c"]
            == "Withdrawn"
        )
        update_lead(world.partner_orgs[holder], copy["Id"], {"Status": "Accepted"})
        cycle(world)
        assert events(database, EventKind.CONFLICT) == 1
        assert events(database, EventKind.ACCEPT) == 0
        assert not by_lead_id(world.partner_orgs[other])
