"""API calls of the sync against the Salesforce and HubSpot sandboxes, compared with the vendor's
floor: in bulk (N leads through one cycle) and at a trickle (a few leads per poll interval).

Setup per vendor: a manufacturer org (portal), P partner orgs (portals) with one partner each
(``--partners``, default 3). A cycle pulls the leads, pulls partner updates, routes (the real
router, default policy), delivers every offer into the partner systems and writes every lead's
status back.

Counted: every request the sandbox orgs received during the measured cycles, by system. Logins are
shown but left out of the ratio (Salesforce does not count them against the API allocation).
HubSpot runs on simulated time (its rate-limit windows and the search pacer move only when the
client waits), so its cycle time is not comparable.

The **minimum is computed before the run**, from the lead count, the number of partner orgs and the
limits Salesforce documents per call — not from leadbridge's own batch sizes — for what one cycle
must do: read the new leads, read each partner org for changes (nothing new in a fresh world, still
one call each), write each lead into a partner org (each lead is offered to one partner; the leads
are spread over every partner org, so an org that gets leads costs at least one call), and write
each lead's status back. Two floors are shown: with the REST APIs leadbridge uses (query pages,
sObject Collections) and, for reference, allowing Bulk API 2.0 jobs (fewer calls for large
batches, but asynchronous: minutes, not seconds, for a lead to arrive).

    .venv/bin/python bench/sync.py [--leads 1000] [--partners 3] [--trickle 10] [--intervals 20]
                                   [--vendor salesforce|hubspot|pipedrive|dynamics|both|all]

Pipedrive is a partner-side kind: its world is a HubSpot manufacturer portal with P Pipedrive
partner companies; its floor for the partners is one read per company plus **one call per lead**
(API v2 has no batch create or update for deals). ``both`` runs Salesforce and HubSpot, ``all``
adds Pipedrive and Dynamics.

Dynamics 365 (Dataverse) runs on both sides: a manufacturer environment and P partner
environments. Its floor: query pages of 5,000 (``odata.maxpagesize``), writes in ``$batch``es of
1,000 requests; token requests are shown like logins and left out of the ratio.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadbridge.connectors.dynamics import connect as dynamics_connect
from leadbridge.connectors.pipedrive import connect as pipedrive_connect
from leadbridge.connectors.registry import default_registry
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.registry import OrgSpec
from leadbridge.sync import projector
from leadbridge.sync.cycle import CycleReport, SyncEngine
from leadbridge.sync.projector import SyncTargets
from tests.connectors.sandbox_dynamics import add_leads as add_dynamics_leads
from tests.connectors.sandbox_dynamics import org_values as dynamics_values
from tests.connectors.sandbox_hubspot import HubSpotHarness, add_contacts
from tests.connectors.sandbox_salesforce import add_leads
from tests.sync.world import World, a_partner, a_world

# Salesforce's documented per-call limits (crm-api-notes §2.3, §2.5, §2.7, §6.1; Salesforce REST API
# Developer Guide "Query" / "sObject Collections", Bulk API 2.0 Developer Guide):
QUERY_PAGE = 2_000  # records per query / queryMore page (Sforce-Query-Options batchSize ≤ 2,000)
COLLECTION = 200  # records per sObject Collections create/update/upsert call
# Bulk API 2.0 ingest job: create, upload the CSV (≤ 100 MB), close (UploadComplete), poll at least
# once, then successfulResults and failedResults (the outbox needs per-record outcomes).
BULK_INGEST_CALLS = 6
# Bulk API 2.0 query job: create, poll at least once, then one results page per maxRecords (50,000).
BULK_QUERY_FIXED, BULK_QUERY_PAGE = 2, 50_000
# HubSpot's documented limits (crm-api-notes §4.2, §4.3, §4.5; HubSpot CRM API "Search" and "Batch"
# guides): CRM search pages of 200 results (at most 10,000 per query), batch read/create/update/
# upsert of 100 inputs, associations v4 batch read of 1,000 inputs; no bulk write API for CRM objects.
HS_SEARCH_PAGE = 200
HS_BATCH = 100
# Pipedrive (crm-api-notes-dynamics-pipedrive §5.4, §5.5): v2 lists up to 500 per page; deals are
# created and updated one per call (no batch endpoint).
PD_LIST_PAGE = 500
# Dataverse (crm-api-notes-dynamics-pipedrive §3.3, §3.5): query pages of at most 5,000 rows
# (odata.maxpagesize), $batch of at most 1,000 requests.
DV_PAGE, DV_BATCH = 5_000, 1_000

LOGIN_ENDPOINTS = ("login.soap", "oauth.token", "token", "openid")


@dataclass(frozen=True)
class Floor:
    """The fewest API calls one cycle needs for ``leads`` new leads and ``orgs`` partner orgs."""

    manufacturer: int
    partners: int

    @property
    def total(self) -> int:
        return self.manufacturer + self.partners


def read_calls(records: int, *, bulk: bool) -> int:
    """A read costs at least one call even when nothing changed (that is how a poll learns it)."""
    rest = max(1, math.ceil(records / QUERY_PAGE))
    return min(rest, BULK_QUERY_FIXED + math.ceil(records / BULK_QUERY_PAGE)) if bulk else rest


def write_calls(records: int, *, bulk: bool) -> int:
    rest = math.ceil(records / COLLECTION)
    return min(rest, BULK_INGEST_CALLS) if bulk and records else rest


def floor(leads: int, orgs: int, *, bulk: bool = False) -> Floor:
    """The vendor floor for one cycle (module docstring): computed before anything runs.

    Delivery, however the leads are split over the partner orgs: ``ceil(N / 200)`` collections, and
    at least one call per org that gets a lead; with Bulk API 2.0, at best one job in one org and a
    call for each other receiving org, when that is cheaper."""
    receiving = min(leads, orgs)  # the orgs that get at least one lead
    delivery = max(math.ceil(leads / COLLECTION), receiving)
    if bulk and receiving:
        delivery = min(delivery, BULK_INGEST_CALLS + receiving - 1)
    manufacturer = read_calls(leads, bulk=bulk) + write_calls(leads, bulk=bulk)
    partner_reads = orgs * read_calls(0, bulk=bulk)
    return Floor(manufacturer, partner_reads + delivery)


def hubspot_floor(leads: int, orgs: int) -> Floor:
    """The same floor with HubSpot's limits: search pages of 200 to read, batches of 100 to write."""
    receiving = min(leads, orgs)
    read = max(1, math.ceil(leads / HS_SEARCH_PAGE))
    delivery = max(math.ceil(leads / HS_BATCH), receiving)
    return Floor(read + math.ceil(leads / HS_BATCH), orgs + delivery)


def pipedrive_floor(leads: int, orgs: int) -> Floor:
    """A HubSpot manufacturer (``hubspot_floor``) and Pipedrive partners: one read per company,
    one create per lead."""
    return Floor(hubspot_floor(leads, orgs).manufacturer, orgs + leads)


def dynamics_floor(leads: int, orgs: int) -> Floor:
    """Dataverse on both sides: query pages of 5,000 to read, ``$batch`` of 1,000 to write."""
    receiving = min(leads, orgs)
    read = max(1, math.ceil(leads / DV_PAGE))
    delivery = max(math.ceil(leads / DV_BATCH), receiving)
    return Floor(read + math.ceil(leads / DV_BATCH), orgs + delivery)


@dataclass
class Setup:
    """One vendor's world, as the measurements see it."""

    vendor: str
    systems: dict[str, list[Any]]  # "manufacturer" / "partners" → orgs or portals (with ``counters``)
    engine: Callable[[], SyncEngine]
    add: Callable[[int, bool], None]  # (count, same_stamp): new qualified leads in the home CRM
    delivered: Callable[[], list[int]]  # our leads held per partner org
    floor: Callable[[int, int], Floor]
    bulk_floor: Callable[[int, int], Floor] | None = None


def salesforce(world: World) -> Setup:
    def add(count: int, same_stamp: bool) -> None:
        for start in range(0, count, 100):
            add_leads(world.home, min(100, count - start), same_stamp=same_stamp)

    partners = list(world.partner_orgs.values())
    return Setup(
        "Salesforce",
        {"manufacturer": [world.home], "partners": partners},
        lambda: world.engine(router=None),  # the real router, default policy
        add,
        lambda: [len([r for r in org.records("Lead") if r.get("LeadBridge_Id__c")]) for org in partners],
        floor,
        lambda leads, orgs: floor(leads, orgs, bulk=True),
    )


@contextmanager
def hubspot(database: Database, partners: int) -> Iterator[Setup]:
    """A manufacturer portal and ``partners`` partner portals, connectors at their default page size."""
    with Sandbox.plan(partners=partners, leads=0, seed=13, services=["hubspot"]) as box:
        service = box.hubspot
        home = HubSpotHarness(service.portal("manufacturer"), service.base_url("manufacturer"), box.ca_file)
        portals: dict[str, HubSpotHarness] = {}
        with database.transaction() as session:
            for number in range(1, partners + 1):
                org = f"partner-{number:02d}"
                portals[f"p{number}"] = HubSpotHarness(
                    service.portal(org), service.base_url(org), box.ca_file, role="partner"
                )
                PartnerRepository(session).upsert(a_partner(number, f"p{number}"))
        ids = {name: f"PA-{name[1:]}" for name in portals}
        settings = Settings(
            connections={
                "home": home.config(name="home", page_size=None),
                **{n: h.config(name=n, partner_id=ids[n], page_size=None) for n, h in portals.items()},
            }
        )

        def engine() -> SyncEngine:
            connectors: dict[str, Any] = {"home": home.connector(name="home", page_size=None)}
            for name, harness in portals.items():
                connectors[name] = harness.connector(name=name, partner_id=ids[name], page_size=None)
            # what build_runtime attaches for these settings: events queue their CRM writes
            projector.attach(database, SyncTargets.from_settings(settings))
            return SyncEngine(database, settings, connectors)

        def add(count: int, same_stamp: bool) -> None:
            for start in range(0, count, 100):
                add_contacts(home.portal, min(100, count - start), same_stamp=same_stamp)

        def delivered() -> list[int]:
            live = [h.portal.store("contacts").live() for h in portals.values()]
            return [len([r for r in records if r.properties.get("leadbridge_id")]) for records in live]

        systems = {"manufacturer": [home.portal], "partners": [h.portal for h in portals.values()]}
        yield Setup("HubSpot", systems, engine, add, delivered, hubspot_floor)


@contextmanager
def pipedrive(database: Database, partners: int) -> Iterator[Setup]:
    """A HubSpot manufacturer portal and ``partners`` Pipedrive partner companies (API token).

    The companies' burst window is opened wide (calls are counted, not paced: the connector waits
    for a full window through its retry policy, which would only make the run slower)."""
    orgs = [f"partner-{n:02d}" for n in range(1, partners + 1)]
    layout = {
        "hubspot": [OrgSpec("manufacturer", "manufacturer", 13, 0)],
        "pipedrive": [OrgSpec(org, "partner", 13 + n, 0) for n, org in enumerate(orgs, start=1)],
    }
    with Sandbox(layout) as box:
        home = HubSpotHarness(
            box.hubspot.portal("manufacturer"), box.hubspot.base_url("manufacturer"), box.ca_file
        )
        companies = {org: box.pipedrive.company(org) for org in orgs}
        registry = default_registry()
        configs: dict[str, Any] = {}
        with database.transaction() as session:
            for number, org in enumerate(orgs, start=1):
                companies[org].limits.burst = 100_000
                name = f"p{number}"
                PartnerRepository(session).upsert(a_partner(number, name))
                configs[name] = registry.connection(
                    {"name": name, "kind": "pipedrive", "role": "partner", "partner_id": f"PA-{number}",
                     "base_url": box.pipedrive.base_url(org), "api_token": companies[org].api_token,
                     "ca_file": str(box.ca_file)}
                )  # fmt: skip
        settings = Settings(connections={"home": home.config(name="home", page_size=None), **configs})

        def engine() -> SyncEngine:
            connectors: dict[str, Any] = {"home": home.connector(name="home", page_size=None)}
            for name, config in configs.items():
                connectors[name] = pipedrive_connect(config, retry=RetryPolicy())
            projector.attach(database, SyncTargets.from_settings(settings))
            return SyncEngine(database, settings, connectors)

        def add(count: int, same_stamp: bool) -> None:
            for start in range(0, count, 100):
                add_contacts(home.portal, min(100, count - start), same_stamp=same_stamp)

        def delivered() -> list[int]:
            return [len(c.deals_with("leadbridge_id")) for c in companies.values()]

        systems = {"manufacturer": [home.portal], "partners": list(companies.values())}
        yield Setup("Pipedrive", systems, engine, add, delivered, pipedrive_floor)


@contextmanager
def dynamics(database: Database, partners: int) -> Iterator[Setup]:
    """A manufacturer environment and ``partners`` partner environments (client credentials)."""
    orgs = [f"partner-{n:02d}" for n in range(1, partners + 1)]
    layout = {
        "dynamics": [
            OrgSpec("manufacturer", "manufacturer", 13, 0),
            *(OrgSpec(org, "partner", 13 + n, 0) for n, org in enumerate(orgs, start=1)),
        ]
    }
    with Sandbox(layout) as box:
        home_org = box.dynamics.org("manufacturer")
        environments = {org: box.dynamics.org(org) for org in orgs}
        registry = default_registry()
        configs: dict[str, Any] = {
            "home": registry.connection(dynamics_values(home_org, box.ca_file, name="home"))
        }
        with database.transaction() as session:
            for number, org in enumerate(orgs, start=1):
                name = f"p{number}"
                PartnerRepository(session).upsert(a_partner(number, name))
                values = dynamics_values(
                    environments[org], box.ca_file, name=name, role="partner", partner_id=f"PA-{number}"
                )
                configs[name] = registry.connection(values)
        settings = Settings(connections=configs)

        def engine() -> SyncEngine:
            connectors = {
                name: dynamics_connect(config, retry=RetryPolicy()) for name, config in configs.items()
            }
            projector.attach(database, SyncTargets.from_settings(settings))
            return SyncEngine(database, settings, connectors)

        def add(count: int, same_stamp: bool) -> None:
            for start in range(0, count, 100):
                add_dynamics_leads(home_org, min(100, count - start), same_stamp=same_stamp)

        def delivered() -> list[int]:
            return [
                len([r for r in e.records("leads") if r.get("new_leadbridgeid")])
                for e in environments.values()
            ]

        systems = {"manufacturer": [home_org], "partners": list(environments.values())}
        yield Setup("Dynamics", systems, engine, add, delivered, dynamics_floor)


def reset(setup: Setup) -> None:
    for found in setup.systems.values():
        for system in found:
            system.counters.reset()


def counted(setup: Setup) -> tuple[dict[str, int], dict[str, int]]:
    """API calls and logins per system since the last ``reset``; prints calls per endpoint."""
    calls, logins = {}, {}
    for system, found in setup.systems.items():
        snapshots = [each.counters.snapshot() for each in found]
        logins[system] = sum(s.get(e, 0) for s in snapshots for e in LOGIN_ENDPOINTS)
        calls[system] = sum(sum(s.values()) for s in snapshots) - logins[system]
        by_endpoint: dict[str, int] = {}
        for snapshot in snapshots:
            for endpoint, count in snapshot.items():
                by_endpoint[endpoint] = by_endpoint.get(endpoint, 0) + count
        print(f"  ({system} by endpoint: {', '.join(f'{e} {n}' for e, n in sorted(by_endpoint.items()))})")
    return calls, logins


def run_clean(engine: SyncEngine) -> CycleReport:
    report = engine.run()
    if report.errors or report.stopped:
        raise SystemExit(f"the cycle did not finish cleanly: {report.errors} {report.stopped}")
    return report


def show(title: str, leads: int, calls: dict[str, int], logins: dict[str, int], least: Floor) -> None:
    per_1000 = 1000 / max(leads, 1)
    minimum = {"manufacturer": least.manufacturer, "partners": least.partners}
    print(f"{title}: {leads} leads")
    for system in calls:
        print(
            f"  {system}: {calls[system]} API calls (+{logins[system]} logins), minimum {minimum[system]}; "
            f"per 1,000 leads {calls[system] * per_1000:.1f} vs {minimum[system] * per_1000:.1f}"
        )


def announce(setup: Setup, leads: int, per_interval: int, orgs: int) -> None:
    for title, count in (("bulk cycle", leads), ("trickle interval", per_interval)):
        least = setup.floor(count, orgs)
        bulk = setup.bulk_floor(count, orgs) if setup.bulk_floor else None
        extra = f" (allowing Bulk API 2.0: {bulk.manufacturer} + {bulk.partners})" if bulk else ""
        print(
            f"{setup.vendor}: minimum computed before the run, {title} of {count} leads, {orgs} partner "
            f"orgs: manufacturer {least.manufacturer} + partners {least.partners} calls{extra}"
        )


def bulk_cycle(setup: Setup, engine: SyncEngine, leads: int, orgs: int) -> None:
    """N leads through one cycle."""
    least = setup.floor(leads, orgs)
    setup.add(leads, True)
    reset(setup)
    started = time.perf_counter()
    report = run_clean(engine)
    seconds = time.perf_counter() - started
    taken = report.pulled[0].created
    if taken != leads:
        raise SystemExit(f"expected {leads} leads in the cycle, took in {taken}")
    calls, logins = counted(setup)
    show(f"{setup.vendor}, bulk, one cycle", leads, calls, logins, least)
    total, per_1000, key = sum(calls.values()), 1000 / leads, setup.vendor.lower()
    print(f"  delivered per partner org: {setup.delivered()}; cycle time {seconds:.2f} s")
    print(f"{key}_api_calls_per_1000_leads: {total * per_1000:.1f}")
    print(f"{key}_api_call_minimum_per_1000_leads: {least.total * per_1000:.1f}")
    if setup.bulk_floor:
        bulk = setup.bulk_floor(leads, orgs)
        print(f"{key}_api_call_minimum_bulk2_per_1000_leads: {bulk.total * per_1000:.1f}")
    print(f"{key}_api_call_ratio: {total / least.total:.2f}")


def trickle(setup: Setup, engine: SyncEngine, per_interval: int, intervals: int, orgs: int) -> None:
    """``per_interval`` new leads before each of ``intervals`` cycles (one poll interval each)."""
    least = setup.floor(per_interval, orgs)
    run_clean(engine)  # settle: echoes of the bulk cycle's writes are read here, not counted below
    reset(setup)
    for _ in range(intervals):
        setup.add(per_interval, False)
        run_clean(engine)
    calls, logins = counted(setup)
    leads = per_interval * intervals
    total_floor = Floor(least.manufacturer * intervals, least.partners * intervals)
    title = f"{setup.vendor}, trickle, {per_interval} leads per poll interval × {intervals}"
    show(title, leads, calls, logins, total_floor)
    total, per_1000, key = sum(calls.values()), 1000 / leads, setup.vendor.lower()
    print(f"{key}_api_calls_per_1000_leads_trickle: {total * per_1000:.1f}")
    print(f"{key}_api_call_minimum_per_1000_leads_trickle: {total_floor.total * per_1000:.1f}")
    print(f"{key}_api_call_ratio_trickle: {total / total_floor.total:.2f}")


def measure(setup: Setup, args: argparse.Namespace) -> None:
    announce(setup, args.leads, args.trickle, args.partners)
    engine = setup.engine()  # one engine (its connectors, pacers, sessions) for both, as a worker has
    bulk_cycle(setup, engine, args.leads, args.partners)
    trickle(setup, engine, args.trickle, args.intervals, args.partners)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--partners", type=int, default=3)
    parser.add_argument("--trickle", type=int, default=10, help="new leads per poll interval")
    parser.add_argument("--intervals", type=int, default=20)
    parser.add_argument(
        "--vendor", choices=("salesforce", "hubspot", "pipedrive", "dynamics", "both", "all"), default="both"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.vendor in ("salesforce", "both", "all"):
            database = Database(f"sqlite:///{tmp}/salesforce.db")
            database.upgrade()
            with a_world(database, partners=args.partners) as world:
                measure(salesforce(world), args)
        if args.vendor in ("hubspot", "both", "all"):
            database = Database(f"sqlite:///{tmp}/hubspot.db")
            database.upgrade()
            with hubspot(database, args.partners) as setup:
                measure(setup, args)
        if args.vendor in ("pipedrive", "all"):
            database = Database(f"sqlite:///{tmp}/pipedrive.db")
            database.upgrade()
            with pipedrive(database, args.partners) as setup:
                measure(setup, args)
        if args.vendor in ("dynamics", "all"):
            database = Database(f"sqlite:///{tmp}/dynamics.db")
            database.upgrade()
            with dynamics(database, args.partners) as setup:
                measure(setup, args)


if __name__ == "__main__":
    main()
