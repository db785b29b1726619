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
from leadbridge.core.store.tables import LeadEventRow, LeadRow
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sync import projector
from leadbridge.sync.cycle import CycleReport, SyncEngine
from leadbridge.sync.projector import SyncTargets
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
        projector.attach(database, SyncTargets.from_settings(settings))
        engine = SyncEngine(database, settings, connectors, router=round_robin_router)
        yield HubSpotWorld(home, partner, database, engine)


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
    assert second.partner_updates[0].events >= 2  # accept, decline (UNQUALIFIED before accepting)
    leads = world.leads()
    assert leads[ids[0]].state == "accepted"
    assert leads[ids[1]].partner_id is None and leads[ids[1]].state not in ("lost", "offered")
    copies = world.partner_copies()
    assert copies[leads[ids[0]].id]["leadbridge_status"] == "Accepted"
    assert copies[leads[ids[0]].id]["email"] == world.home_values(ids[0])["email"]  # revealed after the claim
    assert copies[leads[ids[2]].id]["leadbridge_status"] == "Withdrawn"
    assert world.home_values(ids[0])["leadbridge_status"] == "accepted"
    assert world.home_values(ids[1])["leadbridge_status"] != "lost"
    assert not copies[leads[ids[1]].id].get("email")  # declined: never revealed

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
    assert world.leads()[ids[1]].state == "offered"  # WON is no accept: the offer waits for CONNECTED
    world.partner.portal.edit_as_user("contacts", won, {"hs_lead_status": "CONNECTED"})
    _ok(world.engine.run())
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


# -- the partner loop on contact lead status (BEHAVIOR.md "Partner loop") ------------------------
CLOSE_MS = "1796083200000"  # 2026-12-01T00:00:00Z, a HubSpot date property value


def _offered(world: HubSpotWorld, count: int) -> tuple[list[str], list[str]]:
    """``count`` leads offered to the partner: (home contact ids, partner contact ids)."""
    ids = add_contacts(world.home.portal, count, same_stamp=False)
    _ok(world.engine.run())
    copies, leads = world.partner_copies(), world.leads()
    return ids, [copies[leads[i].id]["id"] for i in ids]


def _partner_sets(world: HubSpotWorld, record: str, values: dict[str, str]) -> CycleReport:
    world.partner.portal.edit_as_user("contacts", record, values)
    return _ok(world.engine.run())


def _events(world: HubSpotWorld, lead_id: str, kind: str) -> list[dict[str, Any]]:
    with world.database.transaction() as session:
        rows = session.execute(
            select(LeadEventRow).where(LeadEventRow.lead_id == lead_id, LeadEventRow.kind == kind)
        ).scalars()
        return [dict(row.payload) for row in rows]


def _accepted(world: HubSpotWorld, home_id: str, record: str) -> LeadRow:
    _partner_sets(world, record, {"hs_lead_status": "CONNECTED"})
    lead = world.leads()[home_id]
    assert (lead.state, lead.partner_id is not None) == ("accepted", True)
    return lead


def test_given_connected_then_the_lead_is_claimed_revealed_and_written_back(world: HubSpotWorld) -> None:
    [home_id], [record] = _offered(world, 1)
    lead = _accepted(world, home_id, record)
    copy = world.partner_copies()[lead.id]
    assert copy["leadbridge_status"] == "Accepted" and copy["email"] == world.home_values(home_id)["email"]
    assert world.home_values(home_id)["leadbridge_status"] == "accepted"
    assert world.home_values(home_id)["leadbridge_partner"] == "Kessler Haustechnik"


def test_given_unqualified_before_the_accept_then_it_is_a_decline_and_identity_stays_hidden(
    world: HubSpotWorld,
) -> None:
    [home_id], [record] = _offered(world, 1)
    lead_id = world.leads()[home_id].id
    report = _partner_sets(world, record, {"hs_lead_status": "UNQUALIFIED"})
    lead = world.leads()[home_id]
    assert lead.partner_id is None and lead.state not in ("accepted", "working", "lost", "offered")
    assert [e.get("reason_code") for e in _events(world, lead_id, "decline")] == ["no_fit"]
    assert _events(world, lead_id, "accept") == [] and _events(world, lead_id, "lose") == []
    assert report.partner_updates[0].events == 1
    copy = world.partner_copies()[lead_id]
    assert not copy.get("email") and copy["lastname"] == lead_id[-6:]
    assert copy["leadbridge_status"] != "Accepted"
    home = world.home_values(home_id)
    assert home["leadbridge_status"] == lead.state and not home.get("leadbridge_outcome")


def test_given_a_declined_action_with_a_reason_then_the_decline_carries_it(world: HubSpotWorld) -> None:
    [home_id], [record] = _offered(world, 1)
    lead_id = world.leads()[home_id].id
    _partner_sets(world, record, {"leadbridge_outcome": "declined", "leadbridge_reason": "no_capacity"})
    lead = world.leads()[home_id]
    assert lead.partner_id is None and lead.state != "offered"
    assert [e.get("reason_code") for e in _events(world, lead_id, "decline")] == ["no_capacity"]
    assert not world.partner_copies()[lead_id].get("email")
    assert world.home_values(home_id)["leadbridge_status"] == lead.state


def test_given_a_returned_action_with_a_reason_then_the_lead_is_given_back_with_it(
    world: HubSpotWorld,
) -> None:
    [home_id], [record] = _offered(world, 1)
    lead_id = _accepted(world, home_id, record).id
    _partner_sets(world, record, {"leadbridge_outcome": "returned", "leadbridge_reason": "not_a_lead"})
    lead = world.leads()[home_id]
    # given back: what follows (re-route, nurture) is the router's, by the reason's on_return
    assert lead.partner_id is None and lead.state not in ("accepted", "working", "won", "lost")
    assert [e.get("reason_code") for e in _events(world, lead_id, "return")] == ["not_a_lead"]
    assert world.home_values(home_id)["leadbridge_status"] == lead.state


def test_given_won_with_amount_and_close_date_then_the_outcome_reaches_the_manufacturer(
    world: HubSpotWorld,
) -> None:
    [home_id], [record] = _offered(world, 1)
    lead_id = _accepted(world, home_id, record).id
    values = {"leadbridge_outcome": "won", "leadbridge_amount": "12500.50", "leadbridge_close_date": CLOSE_MS}
    _partner_sets(world, record, values)
    assert world.leads()[home_id].state == "won"
    [win] = _events(world, lead_id, "win")
    assert (win["amount"], win["close_date"]) == ("12500.50", "2026-12-01")
    home = world.home_values(home_id)
    assert (home["leadbridge_status"], home["leadbridge_outcome"]) == ("won", "won")
    assert float(home["leadbridge_expected_revenue"]) == 12500.5


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ({"leadbridge_outcome": "lost", "leadbridge_reason": "no_budget"}, "no_budget"),
        ({"hs_lead_status": "UNQUALIFIED"}, "no_fit"),  # on a claimed lead: a loss, never a competitor
    ],
)
def test_given_lost_after_the_accept_then_the_loss_carries_its_reason(
    world: HubSpotWorld, values: dict[str, str], reason: str
) -> None:
    [home_id], [record] = _offered(world, 1)
    lead_id = _accepted(world, home_id, record).id
    _partner_sets(world, record, values)
    assert world.leads()[home_id].state == "lost"
    assert [e["reason_code"] for e in _events(world, lead_id, "lose")] == [reason]
    home = world.home_values(home_id)
    assert (home["leadbridge_status"], home["leadbridge_reason"]) == ("lost", reason)


def test_given_won_on_an_offer_not_accepted_then_nothing_is_claimed(world: HubSpotWorld) -> None:
    [home_id], [record] = _offered(world, 1)
    lead_id = world.leads()[home_id].id
    report = _partner_sets(world, record, {"leadbridge_outcome": "won", "leadbridge_amount": "900"})
    assert report.partner_updates[0].events == 0
    assert world.leads()[home_id].state == "offered" and _events(world, lead_id, "accept") == []
    assert not world.partner_copies()[lead_id].get("email")
