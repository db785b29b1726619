"""The demo's world: a sandbox with a manufacturer org and partner orgs, a few dozen partners, and
the settings that connect them — the same configuration a real installation writes by hand.

Rules: everything is seeded (same seed → same partners, leads and decisions); partners cover every
country the sandbox generates leads for, so routing has a real choice everywhere; the first
``partner_orgs`` partners of the busiest country work in their own Salesforce org, the next
``hubspot_partners`` in their own HubSpot portal (properties created the way ``mappings check --fix``
does), the next ``pipedrive_partners`` in their own Pipedrive company (offers land as deals; the
connector creates its field and labels on the first offer), the next ``dynamics_partners`` in their
own Dynamics 365 environment (offers land as leads upserted on the ``new_leadbridgeid`` alternate key),
the next ``webhook_partners`` behind a signed-webhook endpoint (``kind: webhook``, ``demo/hooks.py``),
the rest in the hosted inbox.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import SecretStr

from leadbridge.connectors.dynamics import DynamicsConfig
from leadbridge.connectors.hubspot import HubSpotConfig, connect
from leadbridge.connectors.inbox import InboxConfig
from leadbridge.connectors.pipedrive import PipedriveConfig
from leadbridge.connectors.salesforce.config import SalesforceConfig
from leadbridge.connectors.webhook import WebhookConfig
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.settings import ConnectionConfig, Settings
from leadbridge.core.store.database import Database
from leadbridge.demo.hooks import HookInbox, HookServer
from leadbridge.demo.performance import home_mapping, with_accounts
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.dynamics.org import DataverseOrg
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.pipedrive.company import Company
from leadbridge.sandbox.registry import OrgSpec, plan_orgs
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sandbox.seed import PRODUCT_LINES, cities

HOME = "home"
HUBSPOT = "hubspot"
DYNAMICS = "dynamics"
HUBSPOT_QUALIFIED = ("marketingqualifiedlead", "salesqualifiedlead")  # the connector's default filter
INBOX = "inbox"
PIPEDRIVE_PREFIX = "pd"  # connection names of Pipedrive partners: pd<number>
DYNAMICS_PREFIX = "dx"  # connection names of Dynamics 365 partners: dx<number>
WEBHOOK_PREFIX = "wh"  # connection names of webhook partners: wh<number>
# Partners per country, roughly following where the sandbox's leads come from.
PARTNERS_PER_COUNTRY = {"DE": 14, "AT": 3, "CH": 3, "NL": 3, "FR": 3, "BE": 2, "LU": 1, "IT": 2}
PARTNERS_PER_COUNTRY |= {"PL": 1, "DK": 1, "CZ": 1}
NAMES = ("Haustechnik", "Energietechnik", "Solar", "Wärme", "Klima", "Elektro", "Gebäudetechnik", "Energie")
FORMS = ("GmbH", "KG", "AG", "e.K.", "GmbH & Co. KG")
TIERS = ("registered", "silver", "gold", "platinum")


@dataclass
class DemoWorld:
    """The running sandbox, the partners and the settings connecting them."""

    box: Sandbox
    settings: Settings
    partner_orgs: dict[str, SalesforceOrg] = field(default_factory=dict)  # connection → org
    partner_portals: dict[str, Portal] = field(default_factory=dict)  # connection → HubSpot portal
    partner_companies: dict[str, Company] = field(default_factory=dict)  # connection → Pipedrive company
    partner_environments: dict[str, DataverseOrg] = field(default_factory=dict)  # connection → Dynamics
    partners: list[Partner] = field(default_factory=list)

    home_kind: str = "salesforce"  # the manufacturer's CRM: salesforce, hubspot or dynamics
    hooks: HookServer | None = None  # the webhook partners' endpoint (``--webhook-partners``)
    hook_inboxes: dict[str, HookInbox] = field(default_factory=dict)  # connection → what it received

    def stop(self) -> None:
        """Stop the sandbox and the webhook endpoint."""
        self.box.stop()
        if self.hooks is not None:
            self.hooks.stop()
            self.hooks = None

    def partners_by_kind(self) -> dict[str, int]:
        """How many partners work in each kind of system (their connection's kind; the inbox too)."""
        counts: dict[str, int] = {}
        for partner in self.partners:
            config = self.settings.connections.get(partner.connection)
            kind = config.kind if config is not None else partner.connection
            counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))

    @property
    def home(self) -> SalesforceOrg:
        return self.box.salesforce.org("manufacturer")

    def home_records(self) -> dict[str, dict[str, Any]]:
        """The manufacturer's records by id, in one shape for either CRM: ``lead_id`` and ``status``
        (what leadbridge wrote back) and ``qualified`` (whether leadbridge should take it in)."""
        if self.home_kind == DYNAMICS:
            return {
                row["leadid"]: {
                    "lead_id": row.get("new_leadbridgeid"),
                    "status": row.get("new_leadbridgestatus"),
                    "qualified": row.get("statecode") == 0
                    and row.get("new_lifecyclestage") in ("MQL", "SQL"),
                }
                for row in self.box.dynamics.org("manufacturer").records("leads")
            }
        if self.home_kind == HUBSPOT:
            return {
                r.id: {
                    "lead_id": r.properties.get("leadbridge_id") or None,
                    "status": r.properties.get("leadbridge_status") or None,
                    "qualified": r.properties.get("lifecyclestage") in HUBSPOT_QUALIFIED,
                }
                for r in self.box.hubspot.portal("manufacturer").store("contacts").live()
            }
        return {
            r["Id"]: {
                "lead_id": r.get("LeadBridge_Id__c"),
                "status": r.get("LeadBridge_Status__c"),
                "qualified": r.get("Lifecycle_Stage__c") in ("MQL", "SQL"),
            }
            for r in self.home.records("Lead")
        }


def connection_for(
    org: SalesforceOrg, ca_file: Any, *, name: str, role: str, **extra: Any
) -> SalesforceConfig:
    """A connection as a user would configure it: password + security token, the org's own URLs."""
    return SalesforceConfig.model_validate(
        {
            "name": name,
            "kind": "salesforce",
            "role": role,
            "auth": "password",
            "username": org.username,
            "password": org.password,
            "security_token": org.security_token,
            "instance_url": org.instance_url,
            "login_url": org.instance_url,
            "ca_file": str(ca_file),
            **extra,
        }
    )


def hubspot_connection(portal: Portal, url: str, ca_file: Any, *, name: str, **extra: Any) -> HubSpotConfig:
    """A HubSpot connection as a user would configure it (a private app token); its properties are
    created the way ``mappings check --fix`` does."""
    config = HubSpotConfig.model_validate(
        {
            "name": name,
            "kind": "hubspot",
            "base_url": url,
            "access_token": portal.access_token,
            "client_secret": portal.client_secret,
            "ca_file": str(ca_file),
            **extra,
        }
    )
    connect(config).install_properties()
    return config


def _connection(
    country: str,
    number: int,
    partner_orgs: int,
    hubspot_partners: int,
    pipedrive_partners: int = 0,
    dynamics_partners: int = 0,
    webhook_partners: int = 0,
) -> str:
    crm_partners = partner_orgs + hubspot_partners + pipedrive_partners
    synced = crm_partners + dynamics_partners
    if country == "DE" and synced < number <= synced + webhook_partners:
        return f"{WEBHOOK_PREFIX}{number}"
    if country != "DE" or number > synced:
        return INBOX
    if number > crm_partners:
        return f"{DYNAMICS_PREFIX}{number}"
    if number > partner_orgs + hubspot_partners:
        return f"{PIPEDRIVE_PREFIX}{number}"
    return f"p{number}" if number <= partner_orgs else f"h{number}"


def pipedrive_connection(
    company: Company, url: str, ca_file: Any, *, name: str, **extra: Any
) -> PipedriveConfig:
    """A Pipedrive connection as a partner's admin would configure it (the user's API token)."""
    return PipedriveConfig.model_validate(
        {"name": name, "kind": "pipedrive", "base_url": url, "api_token": company.api_token,
         "ca_file": str(ca_file), **extra}
    )  # fmt: skip


def dynamics_connection(org: DataverseOrg, ca_file: Any, *, name: str, **extra: Any) -> DynamicsConfig:
    """A Dynamics 365 connection as a partner's admin would configure it (an app registration's
    client credentials; the sandbox environment is also its own Entra authority)."""
    return DynamicsConfig.model_validate(
        {"name": name, "kind": "dynamics", "org_url": org.url, "authority_url": org.url,
         "tenant_id": org.tenant_id, "client_id": org.client_id, "client_secret": org.client_secret,
         "ca_file": str(ca_file), **extra}
    )  # fmt: skip


def demo_partners(
    seed: int,
    partner_orgs: int,
    hubspot_partners: int = 0,
    pipedrive_partners: int = 0,
    dynamics_partners: int = 0,
    webhook_partners: int = 0,
) -> list[Partner]:
    """A few dozen partners covering every lead country, each with certified product lines."""
    rng = random.Random(f"demo-partners|{seed}")
    by_country: dict[str, list[Any]] = {}
    for city in cities():
        by_country.setdefault(city.country, []).append(city)
    partners: list[Partner] = []
    number = 0
    for country, count in PARTNERS_PER_COUNTRY.items():
        for index in range(count):
            number += 1
            city = by_country[country][index % len(by_country[country])]
            lines = list(PRODUCT_LINES) if index == 0 else rng.sample(PRODUCT_LINES, rng.randint(2, 4))
            connection = _connection(
                country,
                number,
                partner_orgs,
                hubspot_partners,
                pipedrive_partners,
                dynamics_partners,
                webhook_partners,
            )
            partners.append(
                Partner.model_validate(
                    {
                        "external_id": f"PD-{number:03d}",
                        "name": f"{city.city} {rng.choice(NAMES)} {rng.choice(FORMS)}",
                        "connection": connection,
                        "contacts": [
                            {"email": f"vertrieb{number}@partner{number}.example", "language": city.language}
                        ],
                        "territory": {"countries": [country, "LU"] if country == "BE" else [country]},
                        "location_latitude": city.latitude,
                        "location_longitude": city.longitude,
                        "product_lines": lines,
                        "certifications": [
                            {"name": line, "level": rng.randint(1, 3), "expires": date(2030, 12, 31)}
                            for line in lines
                        ],
                        "tier": rng.choice(TIERS),
                        "employees": rng.randint(5, 250),
                        "languages": sorted({city.language, "en"}),
                        "capacity": {"max_open": 400},
                    }
                )
            )
    return partners


def start_world(
    database: Database,
    base: Settings,
    *,
    leads: int,
    partner_orgs: int,
    seed: int,
    hubspot_partners: int = 0,
    home: str = "salesforce",
    pipedrive_partners: int = 0,
    dynamics_partners: int = 0,
    webhook_partners: int = 0,
) -> DemoWorld:
    """Start the sandbox, store the partners, and return settings naming every connection; the
    manufacturer works in ``home`` (``salesforce``, ``hubspot`` or ``dynamics``)."""
    services = ["salesforce", HUBSPOT] if hubspot_partners or home == HUBSPOT else ["salesforce"]
    # The sandbox deals partners out round-robin over the services (partner-01 Salesforce,
    # partner-02 HubSpot, …): the k-th of a service is partner-{(k - 1) * services + its place + 1}.
    spread = len(services)
    layout = dict(
        plan_orgs(
            partners=max(partner_orgs, hubspot_partners) * spread,
            leads=0 if home == DYNAMICS else leads,
            seed=seed,
            services=services,
        )
    )
    first_pipedrive = partner_orgs + hubspot_partners + 1  # Pipedrive companies are named after their partner
    if pipedrive_partners:
        layout["pipedrive"] = [
            OrgSpec(f"partner-{PIPEDRIVE_PREFIX}{n}", "partner", seed + n, 0)
            for n in range(first_pipedrive, first_pipedrive + pipedrive_partners)
        ]
    first_dynamics = first_pipedrive + pipedrive_partners
    if dynamics_partners or home == DYNAMICS:
        layout["dynamics"] = [
            *([OrgSpec("manufacturer", "manufacturer", seed, leads)] if home == DYNAMICS else []),
            *(
                OrgSpec(f"partner-{DYNAMICS_PREFIX}{n}", "partner", seed + n, 0)
                for n in range(first_dynamics, first_dynamics + dynamics_partners)
            ),
        ]
    box = Sandbox(layout).start()
    world: DemoWorld | None = None
    try:
        home_config: ConnectionConfig
        if home == HUBSPOT:
            home_config = hubspot_connection(
                box.hubspot.portal("manufacturer"),
                box.hubspot.base_url("manufacturer"),
                box.ca_file,
                name=HOME,
                role="manufacturer",
                mapping=str(home_mapping(HUBSPOT, box.ca_file.parent)),
            )
        elif home == DYNAMICS:
            home_config = dynamics_connection(
                box.dynamics.org("manufacturer"), box.ca_file, name=HOME, role="manufacturer",
                mapping=str(home_mapping(DYNAMICS, box.ca_file.parent)),
            )  # fmt: skip
        else:
            home_config = connection_for(
                box.salesforce.org("manufacturer"), box.ca_file, name=HOME, role="manufacturer",
                mapping=str(home_mapping("salesforce", box.ca_file.parent)),
            )  # fmt: skip
        connections: dict[str, ConnectionConfig] = {HOME: home_config, INBOX: InboxConfig(name=INBOX)}
        partners = demo_partners(
            seed, partner_orgs, hubspot_partners, pipedrive_partners, dynamics_partners, webhook_partners
        )
        partners = with_accounts(box, home, partners)  # each partner's account in the home CRM
        world = DemoWorld(box, base, home_kind=home)
        if webhook_partners:
            world.hooks = HookServer()
        for partner in partners:
            if partner.connection.startswith(WEBHOOK_PREFIX) and world.hooks is not None:
                url, inbox = world.hooks.add(partner.connection)
                connections[partner.connection] = WebhookConfig(
                    name=partner.connection,
                    partner_id=partner.external_id,
                    url=url,
                    signing_secret=SecretStr(inbox.secret),
                    ca_file=world.hooks.ca_file,
                )
                world.hook_inboxes[partner.connection] = inbox
                continue
            number = int("".join(c for c in partner.connection if c.isdigit()) or 0)
            if partner.connection.startswith(DYNAMICS_PREFIX):
                name = f"partner-{partner.connection}"
                environment = box.dynamics.org(name)
                connections[partner.connection] = dynamics_connection(
                    environment, box.ca_file, name=partner.connection, role="partner",
                    partner_id=partner.external_id,
                )  # fmt: skip
                world.partner_environments[partner.connection] = environment
            elif partner.connection.startswith(PIPEDRIVE_PREFIX):
                name = f"partner-{partner.connection}"
                company = box.pipedrive.company(name)
                connections[partner.connection] = pipedrive_connection(
                    company, box.pipedrive.base_url(name), box.ca_file,
                    name=partner.connection, role="partner", partner_id=partner.external_id,
                )  # fmt: skip
                world.partner_companies[partner.connection] = company
            elif partner.connection.startswith("p"):
                org = box.salesforce.org(f"partner-{(number - 1) * spread + 1:02d}")
                connections[partner.connection] = connection_for(
                    org, box.ca_file, name=partner.connection, role="partner", partner_id=partner.external_id
                )
                world.partner_orgs[partner.connection] = org
            elif partner.connection.startswith("h"):
                name = f"partner-{(number - partner_orgs - 1) * spread + 2:02d}"
                portal = box.hubspot.portal(name)
                connections[partner.connection] = hubspot_connection(
                    portal, box.hubspot.base_url(name), box.ca_file,
                    name=partner.connection, role="partner", partner_id=partner.external_id,
                )  # fmt: skip
                world.partner_portals[partner.connection] = portal
        with database.transaction() as session:
            repo = PartnerRepository(session)
            world.partners = [repo.upsert(partner)[0] for partner in partners]
        world.settings = base.model_copy(update={"connections": connections})
        return world
    except BaseException:
        box.stop()
        if world is not None and world.hooks is not None:
            world.hooks.stop()
        raise
