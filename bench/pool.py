"""Benchmark: the partner pool under contention — listing a full pool, and partners pulling at once.

Builds a database (SQLite file by default, or ``--database-url`` for PostgreSQL), ``--partners``
eligible partners and ``--leads`` leads routed in ``pool`` mode, so every lead is listed in every
partner's pool. Then times listing one partner's full pool (``PartnerPool.items`` plus
``limits``, what ``GET /api/v1/partner/pool`` runs), and lets every partner pull ("give me my next
lead") in its own thread until the pools are empty: every pull races the others for the same best
leads. Checks that each lead was claimed exactly once. The last lines are exactly
``pool_list_ms`` (the best 100), ``pull_claims_per_s``, ``pull_p95_ms`` and ``double_claims``.

    .venv/bin/python bench/pool.py [--leads 400] [--partners 8] [--database-url URL]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from leadbridge.core.errors import NotFound
from leadbridge.core.intake import take_in
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.policy import parse_policy
from leadbridge.core.pool import PartnerPool
from leadbridge.core.router import route_pending
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow


def build(database: Database, leads: int, partners: int) -> list[str]:
    with database.transaction() as session:
        repo = PartnerRepository(session)
        ids = [
            repo.upsert(
                Partner(
                    name=f"Bench partner {n}",
                    external_id=f"BP-{n}",
                    territory={"countries": ["DE"]},  # type: ignore[arg-type]
                    product_lines=["heat_pumps"],
                    certifications=[{"name": "heat_pumps", "level": 2}],  # type: ignore[list-item]
                    location_latitude=48.1 + n * 0.05,
                    location_longitude=11.5,
                )
            )[0].id
            for n in range(partners)
        ]
        for n in range(leads):
            lead = Lead(
                source_connection="bench",
                external_id=f"BL-{n}",
                email=f"lead{n}@bench.example",
                company=f"Bench {n} GmbH",
                address={"country": "DE", "postal_code": f"{80000 + n % 999:05d}"},  # type: ignore[arg-type]
                product_interests=["heat_pumps"],
                industry="construction",
                employees=10 + n % 500,
                consent={"share_with_partners": True},  # type: ignore[arg-type]
            )
            take_in(session, lead)
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=400)
    parser.add_argument("--partners", type=int, default=8)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--threads",
        type=int,
        help="pulling partners at once (default: all; 2 on SQLite, as the web app runs)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/pool.db"
        database = Database(url)
        database.upgrade()
        policy = parse_policy({"version": 1, "distribution": {"mode": "pool", "pool_size": args.partners}})
        partners = build(database, args.leads, args.partners)
        started = time.perf_counter()
        summary = route_pending(database, policy=policy)
        print(
            f"routed {summary.routed} leads into {summary.offers} listings "
            f"in {time.perf_counter() - started:.1f} s"
        )

        listing: list[float] = []
        for _ in range(5):
            begin = time.perf_counter()
            with database.transaction() as session:
                pool = PartnerPool(session, partners[0], "bench", policy)
                items, _limits = pool.items(100), pool.limits()  # the API's default page
            listing.append((time.perf_counter() - begin) * 1000)
        print(f"listed the best {len(items)} of {args.leads} leads for one partner")

        pulls: list[float] = []
        claimed: dict[str, int] = {}
        busy: list[int] = []
        lock = threading.Lock()

        def puller(partner_id: str) -> None:
            while True:
                begin = time.perf_counter()
                try:
                    with database.transaction() as session:
                        event = PartnerPool(session, partner_id, "bench", policy).pull()
                except NotFound as error:
                    if "try again" not in str(error):
                        return  # the pool is empty
                    with lock:
                        busy.append(1)  # every listing was being claimed by others: pull again
                    continue
                with lock:
                    pulls.append((time.perf_counter() - begin) * 1000)
                    claimed[partner_id] = claimed.get(partner_id, 0) + 1
                del event

        begin = time.perf_counter()
        sqlite = url.startswith("sqlite")
        threads = [threading.Thread(target=puller, args=(pid,)) for pid in partners]
        threads = threads[: args.threads or (2 if sqlite else len(threads))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - begin
        with database.transaction() as session:
            accepts = session.execute(
                select(LeadEventRow.lead_id, func.count())
                .where(LeadEventRow.kind == "accept")
                .group_by(LeadEventRow.lead_id)
            ).all()
        doubles = sum(1 for _, count in accepts if count > 1)
        print(f"claims per partner: {sorted(claimed.values())}; {len(accepts)} leads claimed of {args.leads}")
        print(f"pulls answered 'try again' (all listings in flight): {len(busy)}")
        print(f"database: {url.split(':')[0]}, {len(threads)} partners pulling at once")
        print(f"pool_list_ms: {statistics.median(listing):.1f}")
        print(f"pull_claims_per_s: {len(pulls) / elapsed:.0f}")
        print(f"pull_p95_ms: {statistics.quantiles(pulls, n=20)[-1]:.1f}")
        print(f"double_claims: {doubles}")


if __name__ == "__main__":
    main()
