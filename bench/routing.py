"""The routing executor at scale: N waiting leads routed against P partners on PostgreSQL.

Partners and leads come from ``bench/match.py``'s generators (mostly local partners over DE/AT/CH
postal regions). Printed: the cold load of partners and their index, leads routed per minute by
one ``route_pending`` pass (the index then cached), and the stored decision's size per offer.

    .venv/bin/python bench/routing.py [--partners 10000] [--leads 1000]

Needs the local PostgreSQL (``LEADBRIDGE_TEST_DATABASE_URL``, default postgres@127.0.0.1/test).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import sqlalchemy as sa
from match import make_leads, make_partners, regions

from leadbridge.core import partner_index_cache, router
from leadbridge.core.intake import take_in
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from tests.conftest import _pg_admin_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=1000)
    args = parser.parse_args()
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"leadbridge_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        database.upgrade()
        rng = random.Random(3)
        places = regions()
        with database.transaction() as session:
            repository = PartnerRepository(session)
            for partner in make_partners(args.partners, places, rng):
                repository.upsert(partner)
        with database.transaction() as session:
            for lead in make_leads(args.leads, places, rng):
                sourced = lead.model_copy(update={"source_connection": "bench", "external_id": lead.id})
                take_in(session, sourced)
        policy = router.default_policy()
        partner_index_cache.clear()
        started = time.perf_counter()
        with database.transaction() as session:
            partner_index_cache.partners_and_index(session, policy, datetime.now(UTC))
        cold = time.perf_counter() - started
        started = time.perf_counter()
        summary = router.route_pending(database, policy=policy)
        elapsed = time.perf_counter() - started
        with database.transaction() as session:
            size = session.execute(sa.text("SELECT avg(length(decision::text)) FROM offers")).scalar()
        routed = f"{summary.routed} routed, {summary.offers} offers"
        print(f"{args.partners} partners, {args.leads} leads: {routed}")
        print(f"partners_index_cold_load_s: {cold:.2f}")
        print(f"leads_routed_per_min: {summary.routed / elapsed * 60:.0f}")
        print(f"stored_decision_bytes_per_offer: {float(size or 0):.0f}")
    finally:
        database.engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
