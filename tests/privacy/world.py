"""A world for privacy tests: a Salesforce home org, a Salesforce partner org, a HubSpot partner
portal and an inbox partner, with a sync engine over real connectors and one lead held by each."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from leadbridge.connectors.inbox import InboxConfig
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.offers import OfferService
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sync import projector
from leadbridge.sync.cycle import CycleReport, SyncEngine
from leadbridge.sync.projector import SyncTargets
from tests.connectors.sandbox_hubspot import HubSpotHarness
from tests.connectors.sandbox_salesforce import a_sf_lead, org_config, sandbox_connector

PARTNERS = {"psf": "PA-SF", "phs": "PA-HS", "inbox": "PA-IN"}


@dataclass
class PrivacyWorld:
    box: Sandbox
    database: Database
    settings: Settings
    engine: SyncEngine
    hubspot: HubSpotHarness
    partner_ids: dict[str, str] = field(default_factory=dict)  # connection → partner id
    plan: dict[str, str] = field(default_factory=dict)  # lead id → connection it is offered to

    @property
    def home(self) -> SalesforceOrg:
        return self.box.salesforce.org("manufacturer")

    @property
    def sf_partner(self) -> SalesforceOrg:
        return self.box.salesforce.org("partner-01")

    @property
    def hs_partner(self) -> Portal:
        return self.hubspot.portal

    @property
    def targets(self) -> SyncTargets:
        return SyncTargets.from_settings(self.settings)

    def cycle(self) -> CycleReport:
        report = self.engine.run()
        assert report.errors == [] and report.stopped == [], report.as_dict()
        return report

    def leads(self) -> dict[str, LeadRow]:
        """Leads by their e-mail (before erasure) or id."""
        with self.database.transaction() as session:
            return {row.id: row for row in session.execute(select(LeadRow)).scalars()}

    def route(self, database: Database) -> int:
        """Offer each qualified lead to the partner ``plan`` names (routing is scaffolding here)."""
        routed = 0
        with database.transaction() as session:
            waiting = session.execute(select(LeadRow).where(LeadRow.state == "qualified")).scalars()
            for lead in list(waiting):
                connection = self.plan.get(str(lead.email))
                if connection is None:
                    continue
                LeadService(session).apply(
                    lead.id, EventKind.ROUTE, actor="t", idempotency_key=f"r:{lead.id}"
                )
                partner_id = self.partner_ids[connection]
                OfferService(session).create(
                    lead.id, partner_id, round=1, mode="assign", deadline=None, decision={}
                )
                routed += 1
        return routed


def _partner(connection: str, external_id: str) -> Partner:
    return Partner.model_validate(
        {
            "name": f"Partner {connection}",
            "external_id": external_id,
            "connection": connection,
            "territory": {"countries": ["DE"]},
            "product_lines": ["heat_pumps"],
        }
    )


@contextmanager
def a_privacy_world(database: Database) -> Iterator[PrivacyWorld]:
    with Sandbox.plan(partners=2, leads=0, seed=17, services=["salesforce", "hubspot"]) as box:
        home = box.salesforce.org("manufacturer")
        sf_partner = box.salesforce.org("partner-01")
        service = box.hubspot
        hubspot = HubSpotHarness(
            service.portal("partner-02"), service.base_url("partner-02"), box.ca_file, role="partner"
        )
        connections: dict[str, Any] = {
            "home": org_config(home, box.ca_file, name="home"),
            "psf": org_config(sf_partner, box.ca_file, name="psf", role="partner", partner_id="PA-SF"),
            "phs": hubspot.config(name="phs", partner_id="PA-HS"),
            "inbox": InboxConfig(name="inbox"),
        }
        settings = Settings(connections=connections)
        partner_ids: dict[str, str] = {}
        with database.transaction() as session:
            repo = PartnerRepository(session)
            for connection, external_id in PARTNERS.items():
                partner, _ = repo.upsert(_partner(connection, external_id))
                partner_ids[connection] = partner.id
        connectors = {
            "home": sandbox_connector(home, box.ca_file, name="home"),
            "psf": sandbox_connector(sf_partner, box.ca_file, name="psf", role="partner", partner_id="PA-SF"),
            "phs": hubspot.connector(name="phs", partner_id="PA-HS"),
        }
        world = PrivacyWorld(box, database, settings, None, hubspot, partner_ids)  # type: ignore[arg-type]
        projector.attach(database, SyncTargets.from_settings(settings))  # what build_runtime attaches
        world.engine = SyncEngine(database, settings, connectors, router=world.route)
        yield world


def add_person(org: SalesforceOrg, email: str, **overrides: Any) -> str:
    """A qualified Lead for one person in the home org."""
    return org.create("Lead", {**a_sf_lead(), "Email": email, **overrides})
