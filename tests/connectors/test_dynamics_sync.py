"""Dynamics 365 on both sides of real sync cycles: a manufacturer environment and a partner
environment, the sync engine over the Dynamics connectors, the partner answering in its own
Dynamics (accept, win), the manufacturer's opportunity closed as won."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from leadbridge.connectors.dynamics import connect
from leadbridge.connectors.registry import default_registry
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.dynamics.org import DataverseOrg
from leadbridge.sync import projector
from leadbridge.sync.cycle import CycleReport, SyncEngine
from leadbridge.sync.projector import SyncTargets
from tests.connectors.sandbox_dynamics import add_leads, no_wait, org_values
from tests.sync.routers import round_robin_router

ACCEPTED, WON = 100000000, 100000003


@dataclass
class DynamicsWorld:
    home: DataverseOrg
    partner: DataverseOrg
    database: Database
    engine: SyncEngine

    def leads(self) -> dict[str, LeadRow]:
        with self.database.transaction() as session:
            return {str(row.external_id): row for row in session.execute(select(LeadRow)).scalars()}

    def copies(self) -> dict[str, dict[str, Any]]:
        return {r["new_leadbridgeid"]: r for r in self.partner.records("leads") if r.get("new_leadbridgeid")}


@pytest.fixture
def world(database: Database) -> Iterator[DynamicsWorld]:
    with Sandbox.plan(partners=1, leads=0, seed=17, services=["dynamics"]) as box:
        home, partner = box.dynamics.org("manufacturer"), box.dynamics.org("partner-01")
        with database.transaction() as session:
            PartnerRepository(session).upsert(
                Partner.model_validate(
                    {"name": "Kessler Haustechnik", "external_id": "PA-1", "connection": "p1",
                     "territory": {"countries": ["DE"]}, "product_lines": ["heat_pumps"]}
                )
            )  # fmt: skip
        registry = default_registry()
        configs = {
            "home": registry.connection(org_values(home, box.ca_file, name="home")),
            "p1": registry.connection(
                org_values(partner, box.ca_file, name="p1", role="partner", partner_id="PA-1")
            ),
        }
        settings = Settings(connections=configs)
        connectors = {name: connect(config, retry=no_wait()) for name, config in configs.items()}
        projector.attach(database, SyncTargets.from_settings(settings))
        engine = SyncEngine(database, settings, connectors, router=round_robin_router)
        yield DynamicsWorld(home, partner, database, engine)


def _ok(report: CycleReport) -> CycleReport:
    assert report.errors == [] and report.stopped == [], report.as_dict()
    return report


def test_given_qualified_leads_when_cycling_then_the_partner_works_them_in_dynamics_and_home_sees_it(
    world: DynamicsWorld,
) -> None:
    ids = add_leads(world.home, 2, same_stamp=True)
    add_leads(world.home, 1, same_stamp=False, new_lifecyclestage="Lead")  # not qualified
    opportunity = world.home.create(
        "opportunities", {"name": "Wärmepumpe", "originatingleadid@odata.bind": f"/leads({ids[0]})"}
    )
    first = _ok(world.engine.run())
    assert first.pulled[0].created == 2 and first.routed == 2
    leads, copies = world.leads(), world.copies()
    for lead_id in ids:
        copy = copies[leads[lead_id].id]
        assert copy["new_leadbridgestatus"] == "Offered" and copy.get("emailaddress1") is None  # blind
        assert world.home.rows["leads"][lead_id]["new_leadbridgestatus"] == "Offered"

    accepted = copies[leads[ids[0]].id]["leadid"]
    world.partner.update("leads", accepted, {"new_partnerstatus": ACCEPTED})
    _ok(world.engine.run())
    leads, copies = world.leads(), world.copies()
    assert leads[ids[0]].state == "accepted" and leads[ids[1]].state == "offered"
    revealed = copies[leads[ids[0]].id]
    assert revealed["emailaddress1"] == world.home.rows["leads"][ids[0]]["emailaddress1"]
    assert revealed["new_leadbridgestatus"] == "Accepted"
    assert world.home.rows["leads"][ids[0]]["new_leadbridgestatus"] == "Accepted"
    assert copies[leads[ids[1]].id].get("emailaddress1") is None  # not accepted: still blind

    won = {"new_partnerstatus": WON, "new_leadbridgeexpectedrevenue": 18500.0}
    world.partner.update("leads", accepted, {**won, "new_leadbridgeclosedate": "2026-05-04"})
    _ok(world.engine.run())
    assert world.leads()[ids[0]].state == "won"
    home_row = world.home.rows["leads"][ids[0]]
    assert home_row["new_leadbridgeoutcome"] == "Won" and home_row["new_leadbridgeexpectedrevenue"] == 18500
    closed = world.home.rows["opportunities"][opportunity["opportunityid"]]
    assert (closed["statecode"], closed["statuscode"]) == (1, 3)  # won through WinOpportunity

    quiet = _ok(world.engine.run())  # our own writes come back as echoes only
    assert quiet.pulled[0].created == quiet.pulled[0].updated == 0
    assert quiet.partner_updates[0].events == 0
