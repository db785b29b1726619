"""API calls of the sync against the Salesforce sandbox, compared with the vendor's floor: in bulk
(N leads through one cycle) and at a trickle (a few leads per poll interval).

Setup: a manufacturer org, P partner orgs with one partner each (``--partners``, default 3). A
cycle pulls the leads, pulls partner updates, routes (the real router, default policy), delivers
every offer into the partner orgs and writes every lead's status back.

Counted: every request the sandbox orgs received during the measured cycles, by system. Logins are
shown but left out of the ratio (Salesforce does not count them against the API allocation).

The **minimum is computed before the run**, from the lead count, the number of partner orgs and the
limits Salesforce documents per call — not from leadbridge's own batch sizes — for what one cycle
must do: read the new leads, read each partner org for changes (nothing new in a fresh world, still
one call each), write each lead into a partner org (each lead is offered to one partner; the leads
are spread over every partner org, so an org that gets leads costs at least one call), and write
each lead's status back. Two floors are shown: with the REST APIs leadbridge uses (query pages,
sObject Collections) and, for reference, allowing Bulk API 2.0 jobs (fewer calls for large
batches, but asynchronous: minutes, not seconds, for a lead to arrive).

    .venv/bin/python bench/sync.py [--leads 1000] [--partners 3] [--trickle 10] [--intervals 20]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadbridge.core.store.database import Database
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sync.cycle import CycleReport, SyncEngine
from tests.connectors.sandbox_salesforce import add_leads
from tests.sync.world import World, a_world

# Salesforce's documented per-call limits (crm-api-notes §2.3, §2.5, §2.7, §6.1; Salesforce REST API
# Developer Guide "Query" / "sObject Collections", Bulk API 2.0 Developer Guide):
QUERY_PAGE = 2_000  # records per query / queryMore page (Sforce-Query-Options batchSize ≤ 2,000)
COLLECTION = 200  # records per sObject Collections create/update/upsert call
# Bulk API 2.0 ingest job: create, upload the CSV (≤ 100 MB), close (UploadComplete), poll at least
# once, then successfulResults and failedResults (the outbox needs per-record outcomes).
BULK_INGEST_CALLS = 6
# Bulk API 2.0 query job: create, poll at least once, then one results page per maxRecords (50,000).
BULK_QUERY_FIXED, BULK_QUERY_PAGE = 2, 50_000
# For a HubSpot deployment the same reasoning uses HubSpot's limits (crm-api-notes §4.2, §4.3): CRM
# search pages of 200 results (and at most 10,000 per query), batch read/create/update/upsert of 100
# inputs, associations v4 batch read of 1,000 inputs; there is no bulk write API for CRM objects.

LOGIN_ENDPOINTS = ("login.soap", "oauth.token")


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


def orgs_of(world: World) -> dict[str, list[SalesforceOrg]]:
    return {"manufacturer": [world.home], "partners": list(world.partner_orgs.values())}


def reset(world: World) -> None:
    for org_list in orgs_of(world).values():
        for org in org_list:
            org.counters.reset()


def counted(world: World) -> tuple[dict[str, int], dict[str, int]]:
    """API calls and logins per system since the last ``reset``."""
    calls, logins = {}, {}
    for system, org_list in orgs_of(world).items():
        snapshots = [org.counters.snapshot() for org in org_list]
        logins[system] = sum(s.get(e, 0) for s in snapshots for e in LOGIN_ENDPOINTS)
        calls[system] = sum(sum(s.values()) for s in snapshots) - logins[system]
    return calls, logins


def run_clean(engine: SyncEngine) -> CycleReport:
    report = engine.run()
    if report.errors or report.stopped:
        raise SystemExit(f"the cycle did not finish cleanly: {report.errors} {report.stopped}")
    return report


def add(world: World, count: int) -> None:
    for start in range(0, count, 100):
        add_leads(world.home, min(100, count - start), same_stamp=True)


def show(title: str, leads: int, calls: dict[str, int], logins: dict[str, int], least: Floor) -> None:
    per_1000 = 1000 / max(leads, 1)
    minimum = {"manufacturer": least.manufacturer, "partners": least.partners}
    print(f"{title}: {leads} leads")
    for system in calls:
        print(
            f"  {system}: {calls[system]} API calls (+{logins[system]} logins), minimum {minimum[system]}; "
            f"per 1,000 leads {calls[system] * per_1000:.1f} vs {minimum[system] * per_1000:.1f}"
        )


def bulk_cycle(world: World, leads: int, orgs: int) -> tuple[int, float]:
    """N leads through one cycle; prints and returns (calls, seconds)."""
    least, least_bulk = floor(leads, orgs), floor(leads, orgs, bulk=True)
    add(world, leads)
    engine = world.engine(router=None)  # the real router, default policy
    reset(world)
    started = time.perf_counter()
    report = run_clean(engine)
    seconds = time.perf_counter() - started
    taken = report.pulled[0].created
    if taken != leads:
        raise SystemExit(f"expected {leads} leads in the cycle, took in {taken}")
    calls, logins = counted(world)
    delivered = [
        len([r for r in org.records("Lead") if r.get("LeadBridge_Id__c")])
        for org in orgs_of(world)["partners"]
    ]
    show("bulk, one cycle", leads, calls, logins, least)
    total, per_1000 = sum(calls.values()), 1000 / leads
    print(
        f"  delivered per partner org: {delivered}; "
        f"cycle time {seconds:.2f} s ({leads / seconds:.1f} leads/s)"
    )
    print(f"api_calls_per_1000_leads: {total * per_1000:.1f}")
    print(f"api_call_minimum_per_1000_leads: {least.total * per_1000:.1f}")
    print(f"api_call_minimum_bulk2_per_1000_leads: {least_bulk.total * per_1000:.1f}")
    print(f"api_call_ratio: {total / least.total:.2f}")
    return total, seconds


def trickle(world: World, per_interval: int, intervals: int, orgs: int) -> None:
    """``per_interval`` new leads before each of ``intervals`` cycles (one poll interval each)."""
    least = floor(per_interval, orgs)
    engine = world.engine(router=None)
    run_clean(engine)  # settle: echoes of the bulk cycle's writes are read here, not counted below
    reset(world)
    for _ in range(intervals):
        add_leads(world.home, per_interval, same_stamp=False)
        run_clean(engine)
    calls, logins = counted(world)
    leads = per_interval * intervals
    total_floor = Floor(least.manufacturer * intervals, least.partners * intervals)
    show(f"trickle, {per_interval} leads per poll interval × {intervals}", leads, calls, logins, total_floor)
    total, per_1000 = sum(calls.values()), 1000 / leads
    print(f"api_calls_per_1000_leads_trickle: {total * per_1000:.1f}")
    print(f"api_call_minimum_per_1000_leads_trickle: {total_floor.total * per_1000:.1f}")
    print(f"api_call_ratio_trickle: {total / total_floor.total:.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    parser.add_argument("--partners", type=int, default=3)
    parser.add_argument("--trickle", type=int, default=10, help="new leads per poll interval")
    parser.add_argument("--intervals", type=int, default=20)
    args = parser.parse_args(argv)
    for title, leads in (("bulk cycle", args.leads), ("trickle interval", args.trickle)):
        rest, bulk = floor(leads, args.partners), floor(leads, args.partners, bulk=True)
        print(
            f"minimum computed before the run, {title} of {leads} leads, {args.partners} partner orgs: "
            f"manufacturer {rest.manufacturer} + partners {rest.partners} calls "
            f"(allowing Bulk API 2.0: {bulk.manufacturer} + {bulk.partners})"
        )
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite:///{tmp}/bench.db")
        database.upgrade()
        with a_world(database, partners=args.partners) as world:
            bulk_cycle(world, args.leads, args.partners)
            trickle(world, args.trickle, args.intervals, args.partners)


if __name__ == "__main__":
    main()
