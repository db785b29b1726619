"""API calls and throughput of one whole sync cycle, against the Salesforce sandbox.

Setup: a manufacturer org with N qualified leads (groups sharing one SystemModstamp), three partner
orgs, and three partners (one per org). One cycle pulls the leads, pulls partner updates, routes,
delivers every offer into the partner orgs and writes every lead's status back.

Counted: every request the sandbox orgs received during the cycle, by system. Logins are shown but
left out of the ratio (Salesforce does not count them against the API allocation). The minimum is
what the batch limits allow: query pages of 2,000 records, sObject Collections of 200, one (empty)
partner-update query per partner org.

    .venv/bin/python bench/sync.py [--leads 1000]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from leadbridge.core.store.database import Database
from tests.connectors.sandbox_salesforce import add_leads
from tests.sync.world import a_world

PAGE, COLLECTION = 2000, 200
LOGIN_ENDPOINTS = ("login.soap", "oauth.token")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        database = Database(url)
        database.upgrade()
        with a_world(database, partners=3) as world:
            for _ in range(math.ceil(args.leads / 100)):
                add_leads(world.home, min(100, args.leads), same_stamp=True)
            engine = world.engine(router=None)  # the real router, default policy
            orgs = {"manufacturer": [world.home], "partners": list(world.partner_orgs.values())}
            for org_list in orgs.values():
                for org in org_list:
                    org.counters.reset()
            started = time.perf_counter()
            report = engine.run()
            seconds = time.perf_counter() - started
            if report.errors or report.stopped:
                raise SystemExit(f"the cycle did not finish cleanly: {report.errors} {report.stopped}")
            leads = report.pulled[0].created
            calls, logins = {}, {}
            for system, org_list in orgs.items():
                snapshots = [org.counters.snapshot() for org in org_list]
                logins[system] = sum(s.get(e, 0) for s in snapshots for e in LOGIN_ENDPOINTS)
                calls[system] = sum(sum(s.values()) for s in snapshots) - logins[system]
            delivered = [
                len([r for r in org.records("Lead") if r.get("LeadBridge_Id__c")]) for org in orgs["partners"]
            ]
            minimum = {
                "manufacturer": math.ceil(leads / PAGE) + math.ceil(leads / COLLECTION),
                "partners": sum(math.ceil(n / COLLECTION) for n in delivered) + len(delivered),
            }
    per_1000 = 1000 / max(leads, 1)
    total, least = sum(calls.values()), sum(minimum.values())
    print(f"leads through one cycle: {leads} (delivered per partner org: {delivered})")
    for system in calls:
        print(
            f"{system}: {calls[system]} API calls (+{logins[system]} logins), minimum {minimum[system]}; "
            f"per 1,000 leads {calls[system] * per_1000:.1f} vs {minimum[system] * per_1000:.1f}"
        )
    print(f"cycle time: {seconds:.2f} s")
    print(f"api_calls_per_1000_leads: {total * per_1000:.1f}")
    print(f"api_call_minimum_per_1000_leads: {least * per_1000:.1f}")
    print(f"api_call_ratio: {total / least:.2f}")
    print(f"cycle_leads_per_s: {leads / seconds:.1f}")


if __name__ == "__main__":
    main()
