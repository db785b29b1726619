"""The database at a manufacturer's scale: 1,000,000 leads and 10,000 partners on PostgreSQL.

What it does:
1. creates a throw-away PostgreSQL database and fills it with COPY: 10,000 partners (``bench/match.py``'s
   generator), 1,000,000 leads with their event logs — 60 % closed history (won/lost with an
   accepted offer), 25 % nurture, 10 % accepted/working, 5 % offered with a pending offer — about
   4.8 million events and 750,000 offers — a ``--leads / (--copies + 1)`` base from Python, multiplied
   inside PostgreSQL; then ``leadbridge db vacuum`` (VACUUM (ANALYZE), as autovacuum would do:
   index-only scans need it);
2. starts ``leadbridge run --no-background`` on it and signs an admin in;
3. requests, ``--samples`` times each after a warm-up: the cockpit lead list with filters (state,
   region, campaign, partner, a following page), a lead's timeline (random leads), the partner page
   (first and later pages);
4. takes in 1,000 new qualified leads and times one routing pass over them (the partner index and
   the partner stats loaded first and their cold loads printed apart, as in ``bench/routing.py``: a
   serving process keeps them between passes — the stats with ``routing_stats_max_age_s``).
Printed: p50/p95 per page, ``cockpit_leads_p95_ms``, ``timeline_p95_ms``, ``partners_p95_ms``
(targets < 200 ms) and ``routing_leads_per_min`` (target >= 20,000).

    .venv/bin/python bench/scale.py [--leads 1000000] [--partners 10000] [--samples 40] [--copies 9]
        [--keep] [--reuse URL] [--route-only] [--profile FILE]

The routing pass is reported with its CPU seconds beside the wall time: this process's (``getrusage``)
and the database's (its server processes for this database, from ``/proc``), as the machine is shared.
``--profile FILE`` runs the pass under cProfile and writes the stats there (``python -m pstats``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import sqlalchemy as sa
from inbox_load import free_port, wait_until_up
from match import make_leads, make_partners

from leadbridge.core import partner_index_cache, router, stats_cache
from leadbridge.core.geo import Place, shipped_places
from leadbridge.core.model import Stage, new_id
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.database import Database
from leadbridge.core.store.maintenance import maintain
from leadbridge.sync.bulk_intake import Incoming, take_in_chunk
from leadbridge.web.accounts import create_admin
from leadbridge.web.deps import ADMIN_COOKIE
from leadbridge.web.sessions import start_session
from tests.conftest import _pg_admin_url

NOW = datetime.now(UTC)
CAMPAIGNS = ["Messe ISH 2026", "Webinar Wärmepumpe", "Google Ads Q4", "Newsletter", "Partnerportal"]


def copy_rows(database: Database, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> int:
    """COPY ``rows`` into ``table`` (psycopg 3); returns how many."""
    raw = database.engine.raw_connection()
    count = 0
    try:
        conn = raw.driver_connection
        assert conn is not None
        with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        conn.commit()
    finally:
        raw.close()
    return count


def seed_partners(
    database: Database, count: int, places: dict[str, list[Place]], rng: random.Random
) -> list[str]:
    partners = make_partners(count, places, rng)
    columns = ["id", "external_id", "name", "active", "connection", "data", "created_at", "updated_at"]
    copy_rows(
        database,
        "partners",
        columns,
        (
            (
                p.id,
                p.external_id,
                p.name,
                p.active,
                p.connection,
                json.dumps(p.model_dump(mode="json")),
                NOW,
                NOW,
            )
            for p in partners
        ),
    )
    return [p.id for p in partners]


LEAD_COLUMNS = [
    "id", "source_connection", "external_id", "state", "partner_id", "round", "email", "company",
    "country", "postal_code", "campaign", "data", "version", "created_at", "updated_at",
]  # fmt: skip
EVENT_COLUMNS = [
    "id", "lead_id", "seq", "kind", "from_state", "to_state", "actor", "source_system", "occurred_at",
    "idempotency_key", "partner_id", "offer_id", "payload",
]  # fmt: skip
OFFER_COLUMNS = [
    "id", "lead_id", "partner_id", "round", "mode", "status", "offered_at", "deadline", "decided_at",
    "reason_code", "comment", "decision",
]  # fmt: skip

# (share, path of (event, to-state), final offer status or None)
SHAPES = [
    (0.30, [("receive", "received"), ("qualify", "qualified"), ("route", "routing"), ("offer", "offered"),
            ("accept", "accepted"), ("win", "won")], "accepted"),
    (0.30, [("receive", "received"), ("qualify", "qualified"), ("route", "routing"), ("offer", "offered"),
            ("accept", "accepted"), ("lose", "lost")], "accepted"),
    (0.25, [("receive", "received"), ("nurture", "nurture")], None),
    (0.10, [("receive", "received"), ("qualify", "qualified"), ("route", "routing"), ("offer", "offered"),
            ("accept", "accepted"), ("status", "working")], "accepted"),
    (0.05, [("receive", "received"), ("qualify", "qualified"), ("route", "routing"), ("offer", "offered")],
     "pending"),
]  # fmt: skip


def seed_leads(
    database: Database, count: int, partners: list[str], places: dict[str, list[Place]], rng: random.Random
) -> list[str]:
    """Leads, events and offers by COPY (the rows intake and the lifecycle would have written)."""
    template = [lead.model_dump(mode="json") for lead in make_leads(200, places, rng)]
    leads: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    offers: list[tuple[Any, ...]] = []
    sample: list[str] = []
    weights = [share for share, _, _ in SHAPES]

    def flush() -> None:
        copy_rows(database, "leads", LEAD_COLUMNS, iter(leads))
        copy_rows(database, "lead_events", EVENT_COLUMNS, iter(events))
        copy_rows(database, "offers", OFFER_COLUMNS, iter(offers))
        leads.clear(), events.clear(), offers.clear()

    for n in range(count):
        base = template[n % len(template)]
        lead_id = new_id("L")
        created = NOW - timedelta(days=rng.uniform(1, 5 * 365))
        email, company = f"lead{n}@firma{n % 5000}.example", f"Firma {n % 50000} GmbH"
        campaign = rng.choice(CAMPAIGNS)
        data = base | {
            "id": lead_id,
            "external_id": f"S-{n}",
            "source_connection": "bench",
            "email": email,
            "company": company,
            "campaign": campaign,
            "created_at": created.isoformat(),
        }
        _, path, offer_status = rng.choices(SHAPES, weights)[0]
        partner = rng.choice(partners) if offer_status else None
        offer_id = new_id("O") if offer_status else None
        at = created
        for seq, (kind, state) in enumerate(path, 1):
            at += timedelta(hours=rng.uniform(1, 72))
            events.append(
                (new_id("E"), lead_id, seq, kind, path[seq - 2][1] if seq > 1 else None, state, "bench",
                 "bench", at, f"bench:{lead_id}:{kind}",
                 partner if kind in ("offer", "accept", "win", "lose", "status") else None,
                 offer_id if kind in ("offer", "accept") else None, "{}")
            )  # fmt: skip
            if kind == "offer":
                offered = at
            if kind == "accept":
                accepted = at
        state = path[-1][1]
        holder = partner if state in ("accepted", "working", "won", "lost") else None
        address = data["address"]
        leads.append(
            (lead_id, "bench", f"S-{n}", state, holder, 1 if offer_status else 0, email, company,
             address.get("country"), address.get("postal_code"), campaign, json.dumps(data), len(path),
             created, at)
        )  # fmt: skip
        if offer_status:
            decided = accepted if offer_status == "accepted" else None
            deadline = offered + timedelta(hours=8)
            offers.append(
                (
                    offer_id,
                    lead_id,
                    partner,
                    1,
                    "assign",
                    offer_status,
                    offered,
                    deadline,
                    decided,
                    None,
                    None,
                    None,
                )
            )
        if n % 997 == 0 and len(sample) < 500:
            sample.append(lead_id)
        if len(leads) >= 20_000:
            flush()
            print(f"  {n + 1:>9,} leads", end="\r", flush=True)
    flush()
    print()
    return sample


def _new(prefix: str, column: str) -> str:
    """SQL for a copy's id: same shape as ``new_id`` (prefix, 16 hex digits), derived from the original
    and the copy number ``c``."""
    return f"'{prefix}-' || substr(md5({column} || ':' || c), 1, 16)"


COPIES_PER_STATEMENT = 6  # each statement rescans the tables for the originals: several copies a scan


def replicate(database: Database, copies: int) -> int:
    """Multiply the seeded leads, their events and offers ``copies`` times inside PostgreSQL
    (INSERT … SELECT with derived ids, ``COPIES_PER_STATEMENT`` copies per statement through
    ``generate_series``): the Python fill makes the variety, the database the volume — a million
    leads in minutes instead of half an hour of COPY from a starved process (one copy per statement
    rescanned the growing tables each time: 4 minutes a copy towards a million leads under load)."""
    lead_cols, event_cols, offer_cols = (", ".join(c) for c in (LEAD_COLUMNS, EVENT_COLUMNS, OFFER_COLUMNS))
    with database.engine.connect() as conn:
        base = conn.exec_driver_sql(
            "SELECT count(*) FROM leads WHERE source_connection = 'bench'"
        ).scalar_one()
    for first in range(1, copies + 1, COPIES_PER_STATEMENT):
        last = min(copies, first + COPIES_PER_STATEMENT - 1)
        each = f"CROSS JOIN generate_series({first}, {last}) AS c"
        lead, event_lead, offer_ref = _new("L", "id"), _new("L", "lead_id"), _new("O", "offer_id")
        hours = "make_interval(hours => c)"
        statements = [
            f"""INSERT INTO leads ({lead_cols}) SELECT {lead}, source_connection,
                external_id || '-' || c, state, partner_id, round,
                regexp_replace(email, '@', '.' || c || '@'), company, country, postal_code, campaign,
                jsonb_set(data::jsonb, '{{id}}', to_jsonb({lead}))::json, version,
                created_at - {hours}, updated_at - {hours}
                FROM leads {each} WHERE source_connection = 'bench' AND external_id NOT LIKE '%%-%%-%%'""",
            f"""INSERT INTO lead_events ({event_cols}) SELECT {_new("E", "id")}, {event_lead}, seq,
                kind, from_state, to_state, actor, source_system, occurred_at - {hours},
                idempotency_key || ':' || c, partner_id,
                CASE WHEN offer_id IS NULL THEN NULL ELSE {offer_ref} END, payload
                FROM lead_events {each} WHERE actor = 'bench' AND idempotency_key NOT LIKE '%%:%%:%%:%%'""",
            f"""INSERT INTO offers ({offer_cols}) SELECT {_new("O", "id")}, {event_lead}, partner_id,
                round, mode, status, offered_at - {hours}, deadline - {hours}, decided_at - {hours},
                reason_code, comment, decision
                FROM offers {each} WHERE id IN (SELECT offer_id FROM lead_events WHERE actor = 'bench'
                AND offer_id IS NOT NULL AND idempotency_key NOT LIKE '%%:%%:%%:%%')""",
        ]
        with database.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
        print(f"  {base * (last + 1):>9,} leads (copies {first}–{last} of {copies})", flush=True)
    return base * (copies + 1)


def cpu_seconds() -> float:
    """This process's CPU seconds so far (user + system)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def database_cpu_seconds(database: Database) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL server process serving this database (``/proc``; empty
    when the server runs elsewhere)."""
    with database.engine.connect() as conn:
        pids = conn.exec_driver_sql(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        ).scalars()
        ticks = os.sysconf("SC_CLK_TCK")
        found = {}
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[pid] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return found


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


def measure(client: httpx.Client, label: str, urls: list[str], samples: int) -> float:
    for url in urls[:3]:
        client.get(url)  # warm-up: first queries plan and fill caches
    times = []
    for index in range(samples):
        url = urls[index % len(urls)]
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
    print(f"  {label:<28} n={len(times):<4} p50={statistics.median(times):7.1f}  p95={p95(times):7.1f} ms")
    return p95(times)


def measure_pages(
    database: Database, url: str, name: str, partners: list[str], sample: list[str], samples: int
) -> dict[str, float]:
    """Start ``leadbridge run`` on the database, sign an admin in and time the three pages: p95 each."""
    project = Path(os.environ.get("TMPDIR", "/tmp")) / f"{name}-{uuid.uuid4().hex[:4]}"
    project.mkdir()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    (project / "leadbridge.yaml").write_text(
        f"database_url: {url}\npublic_url: {base}\nsecret_key: {secrets.token_urlsafe(48)}\npolicy: null\n"
    )
    with database.transaction() as session:
        email = f"bench-{uuid.uuid4().hex[:6]}@scale.example"  # one per run (--reuse)
        admin = create_admin(session, email, secrets.token_urlsafe(16), "Bench")
        token = start_session(session, "admin", admin.id)
    leadbridge = Path(sys.executable).with_name("leadbridge")
    env = {**os.environ, "LEADBRIDGE_CONFIG": str(project / "leadbridge.yaml")}
    process = subprocess.Popen(
        [str(leadbridge), "run", "--port", str(port), "--no-background"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        try:
            wait_until_up(base, process)
        except SystemExit:
            assert process.stderr is not None
            print(process.stderr.read().decode()[-3000:])
            raise
        with httpx.Client(base_url=base, cookies={ADMIN_COOKIE: token}, timeout=60) as client:
            first = client.get("/cockpit/leads", params={"state": "won"})
            following = (
                first.text.split('href="/cockpit/leads?', 1)[-1].split('"', 1)[0].replace("&amp;", "&")
            )
            filtered = [
                "/cockpit/leads?state=won&region=DE-8",
                f"/cockpit/leads?campaign={CAMPAIGNS[1]}",
                f"/cockpit/leads?partner={partners[7]}",
                "/cockpit/leads?state=accepted",
                f"/cockpit/leads?{following}",
                "/cockpit/leads?region=AT",
            ]
            pages = {
                "cockpit_leads": measure(client, "lead list (filtered)", filtered, samples),
                "timeline": measure(
                    client, "lead timeline", [f"/cockpit/leads/{i}" for i in sample], samples
                ),
            }
            partner_pages = ["/cockpit/partners"]
            for _ in range(4):
                page = client.get(partner_pages[-1]).text
                if 'href="/cockpit/partners?' not in page:
                    break
                partner_pages.append(
                    "/cockpit/partners?" + page.split('href="/cockpit/partners?', 1)[1].split('"', 1)[0]
                )
            pages["partners"] = measure(client, "partner page", partner_pages, samples)
    finally:
        process.terminate()
        process.wait(timeout=20)
    return pages


def routing_pass(
    database: Database, places: dict[str, list[Place]], rng: random.Random, profile: str | None
) -> float:
    """Take in 1,000 new qualified leads and route them in one pass; leads per minute (wall).

    Each new lead has an e-mail and a phone number of its own (unique per run), as real leads do: the
    pass's dedup then looks each up among the open leads (by e-mail, and by phone in its postal
    region) instead of skipping leads with nothing to compare."""
    run = uuid.uuid4().hex[:8]
    dial = random.Random(run)  # this run's phone numbers (the leads themselves repeat from ``rng``)
    fresh = [
        Incoming(
            lead.model_copy(
                update={
                    "id": new_id("L"),
                    "source_connection": "bench",
                    "external_id": f"NEW-{run}-{n}",
                    "stage": Stage.SQL,
                    "email": f"new{n}.{run}@kunde{n % 700}.example",
                    "phone": f"+49 {dial.randrange(30, 990)} {dial.randrange(10**6, 10**8)}",
                }
            )
        )
        for n, lead in enumerate(make_leads(1000, places, rng))
    ]
    with database.transaction() as session:
        take_in_chunk(session, fresh, actor="bench")
    policy = router.default_policy()
    started = time.perf_counter()
    with database.transaction() as session:  # as bench/routing.py: the cold load, reported apart
        partner_index_cache.partners_and_index(session, policy, datetime.now(UTC))
    print(f"  partner index cold load: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()  # likewise the stats aggregation (routing_stats_max_age_s)
    with database.transaction() as session:
        stats = load_stats(session, policy.performance, now=datetime.now(UTC))
    key = database.engine.url.render_as_string(hide_password=True)
    stats_cache.keep(key, policy.performance, datetime.now(UTC).date(), stats, aggregated_at=time.monotonic())
    print(f"  partner stats aggregation: {time.perf_counter() - started:.1f} s")
    server_before = database_cpu_seconds(database)
    cpu_before = cpu_seconds()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    summary = router.route_pending(database, policy=policy, stats_max_age=600)
    if profiler is not None:
        profiler.disable()
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    server_after = database_cpu_seconds(database)
    server = sum(after - server_before.get(pid, 0.0) for pid, after in server_after.items())
    if profiler is not None and profile:
        profiler.dump_stats(profile)
        print(f"  profile written to {profile}")
    print(f"  routing pass: {summary.routed} routed, {summary.offers} offers in {elapsed:.1f} s")
    print(f"  routing pass CPU: {cpu:.2f} s this process, {server:.2f} s PostgreSQL")
    print(f"routing_cpu_s: {cpu:.2f}")
    print(f"routing_db_cpu_s: {server:.2f}")
    return summary.routed / elapsed * 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument(
        "--copies",
        type=int,
        default=9,
        help="the database multiplies the Python-made leads this many times (0: every lead from Python)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by an earlier --keep run")
    parser.add_argument("--route-only", action="store_true", help="only the routing pass (no pages)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the routing pass into FILE")
    args = parser.parse_args()
    admin_engine = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    if args.reuse:
        args.keep = True
        url = args.reuse
        name = str(sa.engine.make_url(url).database)
    else:
        name = f"leadbridge_scale_{uuid.uuid4().hex[:8]}"
        with admin_engine.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    try:
        database.upgrade()
        rng = random.Random(11)
        places: dict[str, list[Place]] = {}
        for place in shipped_places():
            places.setdefault(place.country, []).append(place)
        started = time.perf_counter()
        if args.reuse:
            with database.engine.connect() as conn:
                partners = list(conn.exec_driver_sql("SELECT id FROM partners ORDER BY id").scalars())
                sample = list(
                    conn.exec_driver_sql(
                        "SELECT id FROM leads WHERE source_connection = 'bench' "
                        "AND external_id NOT LIKE 'NEW-%%' ORDER BY md5(id) LIMIT 500"
                    ).scalars()
                )
                total = conn.exec_driver_sql("SELECT count(*) FROM leads").scalar_one()
            print(f"reusing {total:,} leads, {len(partners):,} partners")
        else:
            partners = seed_partners(database, args.partners, places, rng)
            sample = seed_leads(database, args.leads // (args.copies + 1), partners, places, rng)
            if args.copies:
                replicate(database, args.copies)
            maintain(database.engine)  # VACUUM (ANALYZE): what autovacuum does after a fill
            took = time.perf_counter() - started
            print(f"seeded {args.leads:,} leads, {args.partners:,} partners in {took:.0f} s")
        pages = {} if args.route_only else measure_pages(database, url, name, partners, sample, args.samples)
        per_min = routing_pass(database, places, rng, args.profile)
        load = os.getloadavg()[0]
        print(f"host load average (1 min): {load:.1f}")
        for label, value in pages.items():
            print(f"{label}_p95_ms: {value:.0f}")
        print(f"routing_leads_per_min: {per_min:.0f}")
    finally:
        database.engine.dispose()
        if args.keep:
            print(f"kept: {url}")
        else:
            with admin_engine.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
