"""Reports at a manufacturer's scale: each report and the cockpit lead list on PostgreSQL.

What it does:
1. creates a throw-away PostgreSQL database filled as ``bench/scale.py`` fills it (COPY):
   ``--partners`` partners (default 2,000) and ``--leads`` leads (default 1,000,000) with their event
   logs and offers, then ANALYZE;
2. fills the daily pre-aggregates (``core/reports/rollup.py``, what the ``rollup_reports`` step
   keeps up to date) and prints how long the first fill took;
3. times, ``--samples`` times each after a warm-up, in this process: the partner scorecard,
   campaign ROI, region and product views — all time, the last 90 days, and one campaign in the
   last 90 days — and the cockpit's first lead-list page (``cockpit_queries.leads``).
Printed: p50/p95 per report and filter, then ``report_p95_ms: N`` last (the worst p95; target
< 300 ms). The seeded win events carry no amounts (revenue sums read them all the same).

    .venv/bin/python bench/reports.py [--leads 1000000] [--partners 2000] [--samples 10] [--no-rollup]
        [--copies 19] [--keep | --fill-only | --reuse URL] [--dirty N]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from scale import CAMPAIGNS, replicate, seed_leads, seed_partners

from leadbridge.core.geo import Place, shipped_places
from leadbridge.core.reports.cells import ReportCellRow
from leadbridge.core.reports.rollup import refresh, state
from leadbridge.core.reports.tables import REPORTS
from leadbridge.core.reports.window import ReportFilter
from leadbridge.core.store.database import Database
from leadbridge.core.store.maintenance import maintain
from leadbridge.web import cockpit_queries
from tests.conftest import _pg_admin_url

CPU_MS: list[float] = []  # this process's CPU per call of the last ``timed`` (the database's is apart)


def timed(database: Database, run: Callable[..., object], samples: int) -> list[float]:
    """Milliseconds per call, each in its own transaction, after one warm-up call."""
    times = []
    CPU_MS.clear()
    for number in range(samples + 1):
        with database.transaction() as session:
            started, cpu = time.perf_counter(), time.process_time()
            run(session)
            if number:
                times.append((time.perf_counter() - started) * 1000)
                CPU_MS.append((time.process_time() - cpu) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def figures(times: list[float]) -> str:
    cpu = f"  cpu p50 {statistics.median(CPU_MS):7.1f} ms" if CPU_MS else ""
    return f"p50 {statistics.median(times):8.1f} ms  p95 {p95(times):8.1f} ms{cpu}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=2_000)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--no-rollup", action="store_true", help="leave the pre-aggregates empty (all raw)")
    parser.add_argument(
        "--copies",
        type=int,
        default=19,
        help="the database multiplies the Python-made leads this many times (0: every lead from Python)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by an earlier --keep run")
    parser.add_argument(
        "--dirty", type=int, default=0, help="leads of the last 30 days changed after the refresh (read raw)"
    )
    parser.add_argument(
        "--fill-only", action="store_true", help="fill (and keep) the database, measure nothing"
    )
    args = parser.parse_args()
    admin_engine = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    args.keep = args.keep or args.fill_only or bool(args.reuse)
    if args.reuse:
        url = args.reuse
        name = str(sa.engine.make_url(url).database)
    else:
        name = f"leadbridge_reports_{uuid.uuid4().hex[:8]}"
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        database.upgrade()
        if args.reuse:
            with database.engine.connect() as conn:
                total = conn.exec_driver_sql("SELECT count(*) FROM leads").scalar_one()
                partner_count = conn.exec_driver_sql("SELECT count(*) FROM partners").scalar_one()
            print(f"reusing {total:,} leads, {partner_count:,} partners")
        else:
            rng = random.Random(11)
            places: dict[str, list[Place]] = {}
            for place in shipped_places():
                places.setdefault(place.country, []).append(place)
            started = time.perf_counter()
            partners = seed_partners(database, args.partners, places, rng)
            seed_leads(database, args.leads // (args.copies + 1), partners, places, rng)
            if args.copies:
                replicate(database, args.copies)
            maintain(database.engine)  # VACUUM (ANALYZE), as autovacuum would after a fill
            took = time.perf_counter() - started
            print(f"seeded {args.leads:,} leads, {args.partners:,} partners in {took:.0f} s")
        # The seeded timelines run up to weeks past "now": a lead updated in the future would look
        # changed at every refresh (its days read raw forever). A real lead's last change is past.
        with database.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE leads SET updated_at = now() - interval '1 hour' "
                "WHERE updated_at > now() - interval '1 hour'"
            )
        if args.fill_only:
            return
        started, cpu = time.perf_counter(), time.process_time()
        days: list[object] = []
        while not args.no_rollup:  # in slices, as the rollup_reports step fills a long history
            with database.transaction() as session:
                done = refresh(session, max_days=120)
                rolled = state(session)
            days += done
            print(
                f"  rolled up to {rolled.rolled_until if rolled else None} ({len(days):,} days)", flush=True
            )
            if (
                rolled is None
                or rolled.rolled_until is None
                or rolled.rolled_until >= datetime.now(UTC).date()
            ):
                break
        with database.transaction() as session:
            cells = session.execute(sa.select(sa.func.count()).select_from(ReportCellRow)).scalar()
        maintain(database.engine, analyze_only=True)
        took, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"rolled up {len(days):,} days into {cells:,} cells in {took:.1f} s ({cpu:.1f} s CPU here)")
        if args.dirty:
            with database.engine.begin() as conn:
                conn.exec_driver_sql(
                    "UPDATE leads SET updated_at = now() WHERE id IN (SELECT id FROM leads "
                    f"WHERE created_at > now() - interval '30 days' ORDER BY md5(id) LIMIT {args.dirty})"
                )
            print(f"{args.dirty} leads of the last 30 days changed since the refresh")
        print(f"host load average (1 min) before: {os.getloadavg()[0]:.1f}")
        now = datetime.now(UTC)
        recent = now - timedelta(days=90)
        filters = {
            "all time": ReportFilter(),
            "90 days": ReportFilter(since=recent, until=now),
            "90 days, one campaign": ReportFilter(since=recent, until=now, campaign=CAMPAIGNS[0]),
        }
        worst = 0.0
        for report, build in REPORTS.items():
            for label, flt in filters.items():
                times = timed(database, lambda s, b=build, f=flt: b(s, f), args.samples)
                worst = max(worst, p95(times))
                print(f"{report:>9} · {label:<22} {figures(times)}")
        page = timed(
            database, lambda s: cockpit_queries.leads(s, cockpit_queries.LeadFilters()), args.samples
        )
        worst = max(worst, p95(page))
        print(f"cockpit lead list (first page)   {figures(page)}")
        print(f"host load average (1 min) after: {os.getloadavg()[0]:.1f}")
        print(f"report_p95_ms: {worst:.0f}")
    finally:
        database.engine.dispose()
        if args.keep:
            print(f"kept: {url}")
        else:
            with admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin_engine.dispose()


if __name__ == "__main__":
    main()
