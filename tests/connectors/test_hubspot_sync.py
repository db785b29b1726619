"""HubSpot on both sides of real sync cycles: a manufacturer portal and a partner portal, the sync
engine over the HubSpot connectors, partners working the lead in their own HubSpot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from leadbridge.core.offers import OfferService
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sync import projector
from leadbridge.sync.cycle import CycleReport, SyncEngine
from tests.connectors.sandbox_hubspot import HubSpotHarness, add_contacts
from tests.sync.routers import round_robin_router


@dataclass
class HubSpotWorld:
    home: HubSpotHarness
    partner: HubSpotHarness
    database: Database
    engine: SyncEngine

    def leads(self) -> dict[str, LeadRow]:
        """Leads by their home contact id."""
        with self.database.transaction() as session:
            return {str(row.external_id): row for row in session.execute(select(LeadRow)).scalars()}

    def partner_copies(self) -> dict[str, dict[str, Any]]:
        """The partner portal's contacts by our lead id."""
        live = self.partner.portal.store("contacts").live()
        return {
            r.properties["leadbridge_id"]: dict(r.properties, id=r.id)
            for r in live
            if r.properties.get("leadbridge_id")
        }

    def home_values(self, contact_id: str) -> dict[str, Any]:
        return dict(self.home.portal.store("contacts").get(contact_id).properties)


@pytest.fixture
def world(database: Database) -> Iterator[HubSpotWorld]:
    with Sandbox.plan(partners=1, leads=0, seed=13, services=["hubspot"]) as box:
        service = box.hubspot
        home = HubSpotHarness(service.portal("manufacturer"), service.base_url("manufacturer"), box.ca_file)
        partner_portal: Portal = service.portal("partner-01")
        partner = HubSpotHarness(partner_portal, service.base_url("partner-01"), box.ca_file, role="partner")
        with database.transaction() as session:
            PartnerRepository(session).upsert(
                Partner.model_validate(
                    {"name": "Kessler Haustechnik", "external_id": "PA-1", "connection": "p1",
                     "territory": {"countries": ["DE"]}, "product_lines": ["heat_pumps"]}
                )
            )  # fmt: skip
        settings = Settings(
            connections={
                "home": home.config(name="home"),
                "p1": partner.config(name="p1", partner_id="PA-1"),
            }
        )
        connectors = {
            "home": home.connector(name="home"),
            "p1": partner.connector(name="p1", partner_id="PA-1"),
        }
        engine = SyncEngine(database, settings, connectors, router=round_robin_router)
        try:
            yield HubSpotWorld(home, partner, database, engine)
        finally:
            projector.uninstall()


def _ok(report: CycleReport) -> CycleReport:
    assert report.errors == [] and report.stopped == [], report.as_dict()
    return report


def test_given_qualified_contacts_when_cycling_then_partners_work_them_in_hubspot_and_home_sees_it(
    world: HubSpotWorld,
) -> None:
    ids = add_contacts(world.home.portal, 3, same_stamp=True)
    add_contacts(world.home.portal, 2, same_stamp=False, lifecyclestage="subscriber")  # not qualified
    first = _ok(world.engine.run())
    assert first.pulled[0].created == 3 and first.routed == 3
    assert first.delivered[0].written == 3 and first.written_back[0].written == 3
    leads = world.leads()
    copies = world.partner_copies()
    for contact_id in ids:
        copy = copies[leads[contact_id].id]
        assert copy["leadbridge_status"] == "Offered" and copy["hs_lead_status"] == "NEW"
        assert not copy.get("email") and copy["lastname"] == leads[contact_id].id[-6:]  # blind
        assert world.home_values(contact_id)["leadbridge_status"] == "offered"

    working, lost = (copies[leads[i].id]["id"] for i in ids[:2])
    world.partner.portal.edit_as_user("contacts", working, {"hs_lead_status": "CONNECTED"})
    world.partner.portal.edit_as_user("contacts", lost, {"hs_lead_status": "UNQUALIFIED"})
    with world.database.transaction() as session:
        offers = OfferService(session)
        [offer] = offers.pending_for_lead(leads[ids[2]].id)
        offers.withdraw(offer.id, actor="test", reason="another partner won it")
    second = _ok(world.engine.run())
    assert second.partner_updates[0].events >= 3  # accept + status, accept + lose
    leads = world.leads()
    assert (leads[ids[0]].state, leads[ids[1]].state) == ("working", "lost")
    copies = world.partner_copies()
    assert copies[leads[ids[0]].id]["leadbridge_status"] == "Accepted"
    assert copies[leads[ids[0]].id]["email"] == world.home_values(ids[0])["email"]  # revealed after the claim
    assert copies[leads[ids[2]].id]["leadbridge_status"] == "Withdrawn"
    assert world.home_values(ids[0])["leadbridge_status"] == "working"
    assert world.home_values(ids[1])["leadbridge_status"] == "lost"

    third = _ok(world.engine.run())  # nothing changed: our own writes come back as echoes only
    assert third.pulled[0].created == third.pulled[0].updated == 0
    assert third.partner_updates[0].events == 0
    assert sum(s.written for s in [*third.delivered, *third.written_back]) == 0


def test_given_a_partner_portal_with_its_own_lead_statuses_then_declines_and_wins_come_back(
    world: HubSpotWorld,
) -> None:
    catalogue = world.partner.portal.catalogue  # the partner's admin adds options to hs_lead_status
    options = [o["value"] for o in catalogue.require("contacts", "hs_lead_status").options]
    wanted = {"options": [{"value": v} for v in [*options, "DECLINED", "WON"]]}
    catalogue.update("contacts", "hs_lead_status", wanted, world.partner.portal.clock.now())
    ids = add_contacts(world.home.portal, 2, same_stamp=False)
    _ok(world.engine.run())
    copies, leads = world.partner_copies(), world.leads()
    declined, won = (copies[leads[i].id]["id"] for i in ids)
    world.partner.portal.edit_as_user("contacts", declined, {"hs_lead_status": "DECLINED"})
    world.partner.portal.edit_as_user("contacts", won, {"hs_lead_status": "WON"})
    _ok(world.engine.run())
    leads = world.leads()
    assert leads[ids[0]].partner_id is None and leads[ids[0]].state != "offered"  # declined: back to routing
    assert leads[ids[1]].state == "won"
    assert world.home_values(ids[1])["leadbridge_status"] == "won"


def test_given_the_daily_limit_mid_pull_then_the_cycle_stops_for_quota_and_the_next_one_resumes(
    world: HubSpotWorld,
) -> None:
    ids = add_contacts(world.home.portal, 25, same_stamp=True)  # three pages of 10
    world.home.allow_calls(4)  # two pages (a search and an associations read each), then DAILY
    first = world.engine.run()
    assert first.pulled[0].stopped == "quota" and "daily" in first.pulled[0].errors[0]
    assert 0 < first.pulled[0].created < 25
    world.home.allow_calls(1_000)
    second = _ok(world.engine.run())
    assert first.pulled[0].created + second.pulled[0].created == 25
    assert sorted(world.leads()) == sorted(ids)
