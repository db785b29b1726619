"""Leads per minute through the whole cycle with 1 and 2 workers, and speed-to-lead in both modes.

Throughput (scaled mode: PostgreSQL + Redis + real ``celery -A leadbridge.jobs.app`` workers with
3 threads each): N qualified leads wait in a sandbox manufacturer org; one ``poll_source`` starts
the cycle and the clock; the kicks and the workers do the rest (pull → route → deliver into three
partner orgs → write the status back). The clock stops when the home org shows every lead as
offered and the outbox is empty.

Speed-to-lead: leads posted one by one to the REST API (``POST /api/v1/leads``, admin key) until the
offer record appears in a partner org — in embedded mode (SQLite, the in-process scheduler) and in
scaled mode (2 workers). Routing is leadbridge's own router with the default policy.

    .venv/bin/python bench/throughput.py [--leads 2000] [--trickle 40]

Needs the local PostgreSQL (``LEADBRIDGE_TEST_DATABASE_URL``, default postgres@127.0.0.1/test) and
Redis (``LEADBRIDGE_TEST_REDIS_URL``, default redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa
from fastapi.testclient import TestClient
from pydantic import SecretStr

from leadbridge.core.store.database import Database
from leadbridge.jobs.app import app as celery_app
from leadbridge.jobs.background import start_background
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync.steps import POLL_SOURCE
from leadbridge.web.accounts import create_api_key
from leadbridge.web.app import create_app
from tests.conftest import REDIS_URL, _pg_admin_url, _truncate
from tests.jobs.cluster import Cluster, run_queue, send
from tests.jobs.pipeline import ID_FIELD, seed_leads, wait_for, worker_config
from tests.sync.world import World, a_world

WARM_UP_LEADS = 100
POOL = os.environ.get("BENCH_POOL", "threads")  # the worker pool: threads (leadbridge's default) or prefork
WORKLOAD = "tests.jobs.faultload"  # the real engine steps and router; announces each worker's readiness


@contextmanager
def postgres_database() -> Iterator[str]:
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"leadbridge_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        Database(url).upgrade()
        yield url
    finally:
        Database(url).engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _all_offered(world: World, ids: list[str]) -> bool:
    wanted = set(ids)
    home = [r for r in world.home.records("Lead") if r["Id"] in wanted]
    offered = sum(1 for r in home if r.get("LeadBridge_Status__c") == "Offered")
    return offered == len(wanted) and take_snapshot(world.database).outbox_depth == 0


def throughput(
    url: str, workers: int, leads: int, workdir: Path, probe: Callable[[Cluster, World], None] | None = None
) -> tuple[float, Cluster, World, object]:
    """Leads per minute through one whole cycle with ``workers`` workers; leaves the cluster running.

    A warm-up cycle of ``WARM_UP_LEADS`` runs first (each worker thread logs in to each org and
    loads its mappings once), so the figure is the steady rate, not a cold start. ``probe`` runs
    once the workers are ready, before the measured cycle starts.
    """
    _truncate(url)
    world_cm = a_world(Database(url), partners=3)
    world = world_cm.__enter__()
    config = worker_config(world, workdir, poll_seconds=3600)
    cluster = Cluster(url, REDIS_URL, workdir, queue=run_queue(), LEADBRIDGE_CONFIG=str(config))
    names = [f"w{n}" for n in range(workers)]
    for name in names:
        cluster.start_worker(name, concurrency=3, include=WORKLOAD, pool=POOL)
    cluster.wait_ready(*names)
    celery_app.conf.broker_url = REDIS_URL
    warm_ids = seed_leads(world, WARM_UP_LEADS)
    send(cluster, POLL_SOURCE, "home")
    if not wait_for(lambda: _all_offered(world, warm_ids), timeout=120, interval=0.2):
        raise SystemExit(f"the warm-up cycle did not finish: {take_snapshot(world.database).as_dict()}")
    if probe is not None:
        probe(cluster, world)
    home_ids = seed_leads(world, leads)
    started = time.monotonic()
    send(cluster, POLL_SOURCE, "home")
    if not wait_for(lambda: _all_offered(world, home_ids), timeout=1800, interval=0.2):
        raise SystemExit(f"the cycle did not finish: {take_snapshot(world.database).as_dict()}")
    elapsed = time.monotonic() - started
    per_min = leads / elapsed * 60
    print(
        f"{workers} worker(s): {leads} leads through the whole cycle in {elapsed:.1f} s = {per_min:.0f}/min"
    )
    return per_min, cluster, world, world_cm


def speed_to_lead(rt: Runtime, world: World, count: int) -> list[float]:
    """Seconds from ``POST /api/v1/leads`` to the offer record appearing in a partner org, per lead."""
    with rt.db.transaction() as session:
        _, key = create_api_key(session, "bench")
    keyed = rt.settings.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(48))})
    # the app's kicks go where ``rt``'s go: to the scheduler or the workers started on it
    client = TestClient(create_app(build_runtime(keyed, dispatcher=rt.dispatcher)))
    posted: dict[str, float] = {}
    seen: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for org in world.partner_orgs.values():
                for record in org.records("Lead"):
                    lead_id = record.get(ID_FIELD)
                    if lead_id in posted and lead_id not in seen:
                        seen[lead_id] = time.monotonic()
            time.sleep(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    run = uuid.uuid4().hex[:6]
    try:
        for number in range(count):
            body = {
                "source_connection": "api",
                "external_id": f"bench-{run}-{number}",
                "first_name": "Mia",
                "last_name": f"Bench{number}",
                "email": f"mia.bench{number}@example.com",
                "company": f"Bench {number} GmbH",
                "address": {"postal_code": "80331", "city": "München", "country": "DE"},
                "product_interests": ["heat_pumps"],
                "stage": "mql",
                "consent": {"share_with_partners": True},
            }
            started = time.monotonic()
            response = client.post("/api/v1/leads", json=body, headers={"Authorization": f"Bearer {key}"})
            response.raise_for_status()
            posted[response.json()["lead_id"]] = started
            time.sleep(0.25)
        wait_for(lambda: len(seen) == len(posted), timeout=120, interval=0.1)
    finally:
        stop.set()
        watcher.join(5)
    missing = len(posted) - len(seen)
    if missing:
        print(f"  {missing} of {len(posted)} leads never reached a partner org within 120 s")
    return [seen[lead_id] - posted[lead_id] for lead_id in seen]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def report(mode: str, delays: list[float]) -> float:
    p50, p95 = statistics.median(delays), percentile(delays, 0.95)
    print(f"speed-to-lead ({mode}, {len(delays)} leads): p50 {p50:.2f} s, p95 {p95:.2f} s")
    return p95


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=2000)
    parser.add_argument("--trickle", type=int, default=40, help="leads posted one by one per mode")
    args = parser.parse_args()
    os.environ.pop("LEADBRIDGE_CONFIG", None)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # -- embedded: SQLite and the in-process scheduler ------------------------------------
        sqlite_url = f"sqlite:///{tmp_path / 'embedded.db'}"
        Database(sqlite_url).upgrade()
        with a_world(Database(sqlite_url), partners=3) as world:
            settings = world.settings.model_copy(update={"database_url": sqlite_url, "broker_url": None})
            rt = build_runtime(settings)
            stop = start_background(rt)
            try:
                delays = speed_to_lead(rt, world, args.trickle)
            finally:
                stop()
        figures["embedded"] = report("embedded", delays)
        # -- scaled: PostgreSQL, Redis, 1 then 2 workers ----------------------------------------
        with postgres_database() as url:

            def scaled_probe(cluster: Cluster, world: World) -> None:
                settings = world.settings.model_copy(update={"database_url": url, "broker_url": REDIS_URL})
                os.environ["LEADBRIDGE_QUEUE"] = cluster.queue  # kicks go to these workers
                rt = build_runtime(settings)
                stop = start_background(rt)
                try:
                    delays = speed_to_lead(rt, world, args.trickle)
                finally:
                    stop()
                figures["scaled"] = report("scaled, 2 workers", delays)

            for workers in (1, 2):
                workdir = tmp_path / f"workers-{workers}"
                workdir.mkdir()
                probe = scaled_probe if workers == 2 else None
                per_min, cluster, world, world_cm = throughput(url, workers, args.leads, workdir, probe)
                figures[f"workers_{workers}"] = per_min
                cluster.stop()
                world_cm.__exit__(None, None, None)  # type: ignore[attr-defined]
    print(f"leads_per_min_1_worker: {figures['workers_1']:.0f}")
    print(f"leads_per_min_2_workers: {figures['workers_2']:.0f}")
    print(f"speed_to_lead_p95_s_embedded: {figures['embedded']:.2f}")
    print(f"speed_to_lead_p95_s_scaled: {figures['scaled']:.2f}")


if __name__ == "__main__":
    main()
