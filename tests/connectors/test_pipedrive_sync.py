"""A partner on Pipedrive in real sync cycles: a HubSpot manufacturer portal, a Pipedrive partner
company (API token), the sync engine over the real connectors; the partner answers in Pipedrive
with labels and won/lost as its users would (``connectors/pipedrive/plan.py`` rules)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from leadbridge.connectors.pipedrive import connect
from leadbridge.connectors.registry import default_registry
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.pipedrive.company import Company
from leadbridge.sync import projector
from leadbridge.sync.cycle import CycleReport, SyncEngine
from leadbridge.sync.projector import SyncTargets
from tests.connectors.sandbox_hubspot import HubSpotHarness, add_contacts
from tests.sync.routers import round_robin_router


@dataclass
class PipedriveWorld:
    home: HubSpotHarness
    company: Company
    database: Database
    engine: SyncEngine

    def leads(self) -> dict[str, LeadRow]:
        """Leads by their home contact id."""
        with self.database.transaction() as session:
            return {str(row.external_id): row for row in session.execute(select(LeadRow)).scalars()}

    def deals(self) -> dict[str, dict[str, Any]]:
        """The partner's leadbridge deals by our lead id (labels by name)."""
        key = self.company.field_by_name("leadbridge_id")["key"]  # type: ignore[index]
        names = {label["id"]: label["label"] for label in self.company.labels}
        return {
            d["custom_fields"][key]: {**d, "labels": sorted(names[i] for i in d["label_ids"])}
            for d in self.company.deals_with("leadbridge_id")
        }

    def offered(self, count: int) -> tuple[list[str], list[int]]:
        """``count`` leads offered to the partner: (home contact ids, partner deal ids)."""
        ids = add_contacts(self.home.portal, count, same_stamp=False)
        ok(self.engine.run())
        deals, leads = self.deals(), self.leads()
        return ids, [deals[leads[i].id]["id"] for i in ids]

    def partner_sets(self, deal_id: int, **changes: Any) -> CycleReport:
        self.company.clock.advance(1.0)  # a person's edit, a moment later (stamps are whole seconds)
        self.company.edit_as_user("deal", deal_id, changes)
        return ok(self.engine.run())

    def events(self, lead_id: str, kind: str) -> list[dict[str, Any]]:
        with self.database.transaction() as session:
            rows = session.execute(
                select(LeadEventRow).where(LeadEventRow.lead_id == lead_id, LeadEventRow.kind == kind)
            ).scalars()
            return [dict(row.payload) for row in rows]


def ok(report: CycleReport) -> CycleReport:
    assert report.errors == [] and report.stopped == [], report.as_dict()
    return report


@pytest.fixture
def world(database: Database) -> Iterator[PipedriveWorld]:
    with Sandbox.plan(partners=1, leads=0, seed=17, services=["pipedrive", "hubspot"]) as box:
        home = HubSpotHarness(
            box.hubspot.portal("manufacturer"), box.hubspot.base_url("manufacturer"), box.ca_file
        )
        company = box.pipedrive.company("partner-01")
        with database.transaction() as session:
            PartnerRepository(session).upsert(
                Partner.model_validate(
                    {"name": "Brandt Solar", "external_id": "PA-7", "connection": "pd",
                     "territory": {"countries": ["DE"]}, "product_lines": ["heat_pumps"]}
                )
            )  # fmt: skip
        partner_config = default_registry().connection(
            {"name": "pd", "kind": "pipedrive", "role": "partner", "partner_id": "PA-7",
             "base_url": box.pipedrive.base_url("partner-01"), "api_token": company.api_token,
             "ca_file": str(box.ca_file)}
        )  # fmt: skip
        settings = Settings(connections={"home": home.config(name="home"), "pd": partner_config})
        retry = RetryPolicy(max_attempts=3, max_seconds=10, sleep=lambda _: None)
        connectors = {"home": home.connector(name="home"), "pd": connect(partner_config, retry=retry)}  # type: ignore[arg-type]
        projector.attach(database, SyncTargets.from_settings(settings))
        yield PipedriveWorld(
            home, company, database, SyncEngine(database, settings, connectors, router=round_robin_router)
        )


def test_given_offers_then_they_land_as_blind_labelled_deals_and_an_accept_reveals_the_identity(
    world: PipedriveWorld,
) -> None:
    ids, deals = world.offered(2)
    leads, copies = world.leads(), world.deals()
    for home_id in ids:
        deal = copies[leads[home_id].id]
        assert deal["labels"] == ["Offered"] and deal["status"] == "open"
        assert deal["person_id"] is None and deal["org_id"] is None  # blind: nobody named
        assert "Testbau" not in deal["title"] and "München" in deal["title"]
    assert world.company.persons == {} and world.company.organizations == {}

    report = world.partner_sets(deals[0], labels=["Offered", "Accepted"])
    assert report.partner_updates[0].events == 1
    lead = world.leads()[ids[0]]
    assert (lead.state, lead.partner_id is not None) == ("accepted", True)
    deal = world.deals()[lead.id]
    person = world.company.persons[deal["person_id"]]
    home = world.home.portal.store("contacts").get(ids[0]).properties
    assert person["emails"][0]["value"] == home["email"] and person["name"].startswith("Jana")
    assert world.company.organizations[deal["org_id"]]["name"] == home["company"]
    assert "Testbau" in deal["title"] and deal["labels"] == [
        "Accepted",
        "Offered",
    ]  # the partner's labels kept
    other = world.deals()[world.leads()[ids[1]].id]
    assert other["person_id"] is None  # the other offer stays blind
    assert home["leadbridge_status"] == "accepted"

    again = ok(world.engine.run())  # our own writes come back as echoes, nothing moves
    assert again.partner_updates[0].events == 0 and sum(d.written for d in again.delivered) == 0


def test_given_a_declined_label_or_a_lost_deal_before_accepting_then_the_offer_is_declined_with_its_reason(
    world: PipedriveWorld,
) -> None:
    ids, deals = world.offered(2)
    world.partner_sets(deals[0], labels=["Declined"])
    world.partner_sets(deals[1], status="lost", lost_reason="No capacity")
    leads = world.leads()
    for home_id in ids:
        assert leads[home_id].partner_id is None and leads[home_id].state not in ("accepted", "lost", "won")
        assert world.events(leads[home_id].id, "accept") == []
    assert [e["reason_code"] for e in world.events(leads[ids[0]].id, "decline")] == ["no_fit"]
    assert [e["reason_code"] for e in world.events(leads[ids[1]].id, "decline")] == ["no_capacity"]
    assert world.company.persons == {}  # declined: never revealed


def test_given_an_accepted_deal_then_won_reports_its_value_and_lost_its_reason(world: PipedriveWorld) -> None:
    ids, deals = world.offered(2)
    for deal_id in deals:
        world.partner_sets(deal_id, labels=["Accepted"])
    world.partner_sets(deals[0], value=12500, status="won")
    world.partner_sets(deals[1], status="lost", lost_reason="Lost to competitor")
    leads = world.leads()
    assert leads[ids[0]].state == "won" and leads[ids[1]].state == "lost"
    [win] = world.events(leads[ids[0]].id, "win")
    assert float(win["amount"]) == 12500 and win["close_date"]
    [loss] = world.events(leads[ids[1]].id, "lose")
    assert loss["reason_code"] == "lost_to_competitor"
    home = world.home.portal.store("contacts").get(ids[0]).properties
    assert home["leadbridge_status"] == "won"


def test_given_won_without_the_accept_label_then_nothing_is_claimed_or_revealed_until_it_comes(
    world: PipedriveWorld,
) -> None:
    ids, deals = world.offered(1)
    world.partner_sets(deals[0], value=900, status="won")
    lead = world.leads()[ids[0]]
    assert lead.state == "offered" and lead.partner_id is None and world.company.persons == {}
    world.partner_sets(deals[0], labels=["Accepted"])  # the explicit accept: claim, then the win
    lead = world.leads()[ids[0]]
    assert lead.state == "won" and world.company.persons != {}
    assert [float(e["amount"]) for e in world.events(lead.id, "win")] == [900]


def test_given_a_withdrawn_offer_then_the_deal_is_labelled_withdrawn(world: PipedriveWorld) -> None:
    from leadbridge.core.offers import OfferService

    ids, _ = world.offered(1)
    lead_id = world.leads()[ids[0]].id
    with world.database.transaction() as session:
        offers = OfferService(session)
        [offer] = offers.pending_for_lead(lead_id)
        offers.withdraw(offer.id, actor="test", reason="taken back")
    ok(world.engine.run())
    assert world.deals()[lead_id]["labels"] == ["Withdrawn"]
