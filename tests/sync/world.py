"""A whole small world for sync tests: a manufacturer org, partner orgs, partners in the database,
settings naming every connection, and a sync engine over real connectors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sync import projector
from leadbridge.sync.cycle import SyncEngine
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.routing import Router
from tests.connectors.sandbox_salesforce import org_config, sandbox_connector
from tests.sync.routers import round_robin_router


@dataclass
class World:
    box: Sandbox
    database: Database
    settings: Settings
    partner_orgs: dict[str, SalesforceOrg] = field(default_factory=dict)  # connection → org
    partner_ids: dict[str, str] = field(default_factory=dict)  # connection → partner id

    @property
    def home(self) -> SalesforceOrg:
        return self.box.salesforce.org("manufacturer")

    def engine(self, router: Router | None = round_robin_router, **connector_extra: Any) -> SyncEngine:
        """A sync engine over this world (``router=None``: the real router with the default policy)."""
        connectors = {
            name: sandbox_connector(
                self.box.salesforce.org(org_name),
                self.box.ca_file,
                name=name,
                role=conf.role,
                **connector_extra,
            )
            for name, org_name, conf in self._orgs()
        }
        # As build_runtime does, for the settings as they are now (a test may have changed them).
        projector.attach(self.database, SyncTargets.from_settings(self.settings))
        return SyncEngine(self.database, self.settings, connectors, router=router)

    def _orgs(self) -> list[tuple[str, str, Any]]:
        found = [("home", "manufacturer", self.settings.connection("home"))]
        for name, org in self.partner_orgs.items():
            found.append((name, org.name, self.settings.connection(name)))
        return found

    def leads(self) -> list[LeadRow]:
        with self.database.transaction() as session:
            return list(session.execute(select(LeadRow)).scalars())


def a_partner(number: int, connection: str) -> Partner:
    """Partner ``PA-<number>`` in Munich, working its leads in the CRM of ``connection``; the real
    router's default policy offers it every qualified heat-pump lead in Germany."""
    return Partner.model_validate(
        {
            "name": f"Partner {number}",
            "external_id": f"PA-{number}",
            "connection": connection,
            "territory": {"countries": ["DE"]},
            "product_lines": ["heat_pumps"],
            "certifications": [{"name": "heat_pumps", "level": 2}],
            "location_latitude": 48.14,
            "location_longitude": 11.58,
            "languages": ["de", "en"],
            "capacity": {"max_open": 5000},
        }
    )


@contextmanager
def a_world(database: Database, *, partners: int = 2, leads: int = 0) -> Iterator[World]:
    with Sandbox.plan(partners=partners, leads=leads, seed=11, services=["salesforce"]) as box:
        home = box.salesforce.org("manufacturer")
        connections: dict[str, Any] = {"home": org_config(home, box.ca_file, name="home")}
        world = World(box, database, Settings(connections={}))
        with database.transaction() as session:
            repo = PartnerRepository(session)
            for number in range(1, partners + 1):
                org = box.salesforce.org(f"partner-{number:02d}")
                name = f"p{number}"
                partner, _ = repo.upsert(a_partner(number, name))
                conf = org_config(org, box.ca_file, name=name, role="partner", partner_id=f"PA-{number}")
                connections[name] = conf
                world.partner_orgs[name] = org
                world.partner_ids[name] = partner.id
        world.settings = Settings(database_url=database.url, connections=connections)
        # What build_runtime does for the world's settings: events queue their CRM writes.
        projector.attach(database, SyncTargets.from_settings(world.settings))
        yield world
