"""Streaming lead import at scale: N generated leads (1 % bad rows) into SQLite and PostgreSQL.

What it does:
1. writes a CSV of ``--leads`` leads with realistic fields (names, companies, DE/AT/CH addresses
   from the shipped postal places, product interests, campaigns, consent) where 1 % of the rows
   are bad (no e-mail, a malformed e-mail, an unknown country, negative employees);
2. for each database, runs ``leadbridge leads import FILE --skip-invalid --json`` as a child
   process in a fresh project (SQLite: a file; PostgreSQL: a throw-away database) and reads the
   child's peak resident memory from the kernel (``wait4``);
3. prints per database ``import_leads_per_s`` (valid leads written per second of the whole
   command, start-up included) and ``import_peak_mb`` (targets: >= 5,000 leads/s, < 300 MB):
   the peak of the resident memory of the import and its child process (which checks the rows
   while the import writes) *together*, sampled from /proc every 50 ms — ``wait4`` alone reports
   only the largest single process; that figure is printed too (``import_peak_mb_largest``).

    .venv/bin/python bench/import.py [--leads 1000000] [--only sqlite|postgres] [--keep FILE]

Needs the local PostgreSQL (``LEADBRIDGE_TEST_DATABASE_URL``, default postgres@127.0.0.1/test).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import sqlalchemy as sa

from leadbridge.connectors.csvfile import LEAD_COLUMNS
from leadbridge.core.geo import shipped_places
from tests.conftest import _pg_admin_url

FIRST = ["Anna", "Ben", "Clara", "David", "Eva", "Felix", "Greta", "Hannes", "Ida", "Jonas", "Lena", "Paul"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"]
COMPANY = ["Haustechnik", "Energie", "Bau", "Solar", "Wärme", "Elektro", "Immobilien", "Klima"]
FORMS = ["GmbH", "KG", "AG", "GmbH & Co. KG", "e.K."]
INDUSTRIES = ["construction", "healthcare", "retail", "hospitality", "public_sector", "manufacturing"]
PRODUCTS = ["heat_pumps", "solar_inverters", "batteries", "wallboxes"]
CAMPAIGNS = ["Messe ISH 2026", "Webinar Wärmepumpe", "Google Ads Q4", "Newsletter", "Partnerportal"]
STAGES = ["lead", "mql", "mql", "sql"]
BAD = ("no_email", "bad_email", "bad_country", "negative_employees")


def lead_row(number: int, rng: random.Random, places: list[tuple[str, str, str, float, float]]) -> list[str]:
    """One realistic lead row in ``LEAD_COLUMNS`` order."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    company = f"{rng.choice(COMPANY)} {last} {rng.choice(FORMS)}"
    country, prefix, city, lat, lon = rng.choice(places)
    length = 5 if country == "DE" else 4
    postal = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix)))
    domain = f"{last.lower().replace('ü', 'ue')}{number % 9973}.example"
    values = {
        "external_id": f"HIST-{number:08d}",
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{number}@{domain}",
        "phone": f"+49 {rng.randint(30, 99)} {rng.randint(100000, 999999)}",
        "title": rng.choice(["Geschäftsführer", "Facility Manager", "Einkauf", ""]),
        "company": company,
        "website": f"https://{domain}",
        "industry": rng.choice(INDUSTRIES),
        "employees": str(rng.choice([3, 12, 45, 120, 800, 2500])),
        "annual_revenue": str(rng.randint(100_000, 90_000_000)),
        "street": f"Hauptstraße {rng.randint(1, 200)}",
        "postal_code": postal,
        "city": city,
        "state": "",
        "country": country,
        "latitude": f"{lat:.5f}",
        "longitude": f"{lon:.5f}",
        "product_interests": ";".join(rng.sample(PRODUCTS, rng.randint(1, 2))),
        "language": rng.choice(["de", "de", "en"]),
        "score": str(rng.randint(10, 99)),
        "stage": rng.choice(STAGES),
        "campaign": rng.choice(CAMPAIGNS),
        "source": rng.choice(["web", "event", "ads"]),
        "consent_share": rng.choice(["yes", "yes", "no"]),
        "consent_marketing": rng.choice(["yes", "no"]),
    }
    return [values[column] for column in LEAD_COLUMNS]


def make_bad(row: list[str], rng: random.Random) -> None:
    index = {column: i for i, column in enumerate(LEAD_COLUMNS)}
    kind = rng.choice(BAD)
    if kind == "no_email":
        row[index["email"]] = ""
    elif kind == "bad_email":
        row[index["email"]] = "not-an-address"
    elif kind == "bad_country":
        row[index["country"]] = "Atlantis"
    else:
        row[index["employees"]] = "-5"


def write_file(path: Path, leads: int, *, bad_ratio: float = 0.01, seed: int = 7) -> int:
    """Write ``leads`` rows to ``path`` (streamed); returns how many rows were made bad."""
    rng = random.Random(seed)
    places = [(p.country, p.prefix, p.name, p.latitude, p.longitude) for p in shipped_places()]
    bad = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LEAD_COLUMNS)
        for number in range(leads):
            row = lead_row(number, rng, places)
            if rng.random() < bad_ratio:
                make_bad(row, rng)
                bad += 1
            writer.writerow(row)
    return bad


def _tree_rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` and its descendants, in KB (0 when it is gone)."""
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
        todo += [int(child) for child in children]
    return total


def _sample_peak(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.wait(0.05):
        peak[0] = max(peak[0], _tree_rss_kb(pid))


def run_import(url: str, path: Path, workdir: Path) -> tuple[dict[str, object], float, float, float, float]:
    """``leadbridge leads import`` in a child process: (its JSON, seconds, peak MB of the process
    tree sampled, peak MB of the largest process and CPU seconds from wait4)."""
    (workdir / "leadbridge.yaml").write_text(f"database_url: {url}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    cli = [sys.executable, "-m", "leadbridge.cli.main"]
    subprocess.run([*cli, "db", "upgrade"], cwd=workdir, env=env, check=True, capture_output=True)
    out, err = workdir / "import.json", workdir / "import.err"
    started = time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [*cli, "leads", "import", str(path), "--skip-invalid", "--json"],
            cwd=workdir,
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        stop, tree_peak = threading.Event(), [0]
        sampler = threading.Thread(target=_sample_peak, args=(child.pid, stop, tree_peak), daemon=True)
        sampler.start()
        _pid, status, usage = os.wait4(child.pid, 0)  # the child's own peak RSS and CPU, not ours
        stop.set()
        sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"import failed: {err.read_text()[-2000:]}")
    largest = usage.ru_maxrss / 1024
    return (
        json.loads(out.read_text()),
        elapsed,
        max(tree_peak[0] / 1024, largest),
        largest,
        usage.ru_utime + usage.ru_stime,  # includes the row-checking child's CPU (waited for)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--keep", type=Path, help="write the generated CSV here and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="leadbridge-import-") as tmp:
        root = Path(tmp)
        path = args.keep or root / "leads.csv"
        started = time.perf_counter()
        bad = write_file(path, args.leads)
        size_mb = path.stat().st_size / 1e6
        took = time.perf_counter() - started
        print(f"generated {args.leads} rows ({bad} bad, {size_mb:.0f} MB) in {took:.0f} s")
        for name in ("sqlite", "postgres"):
            if args.only and args.only != name:
                continue
            workdir = root / name
            workdir.mkdir()
            if name == "sqlite":
                url = f"sqlite:///{workdir / 'leadbridge.db'}"
                result, elapsed, peak, largest, cpu = run_import(url, path, workdir)
            else:
                result, elapsed, peak, largest, cpu = _on_postgres(path, workdir)
            written = (
                int(str(result["created"])) + int(str(result["updated"])) + int(str(result["unchanged"]))
            )
            print(f"{name}: {written} imported, {result['invalid']} invalid rows reported, {elapsed:.0f} s")
            print(f"{name} import_leads_per_s: {written / elapsed:.0f}")
            print(f"{name} import_peak_mb: {peak:.0f}")
            print(f"{name} import_peak_mb_largest: {largest:.0f}")
            # leads per second of the importer's own CPU (the database server's work not counted):
            # what the rate would be on an idle core, comparable across loads
            print(f"{name} import_leads_per_cpu_s: {written / cpu:.0f}")
            print(f"{name} import_cpu_ms_per_lead: {1000 * cpu / written:.3f}")
            # a shared machine's load halves the rate: say what it was, to read the figures by
            print(f"{name} load average (1/5/15 min): {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def _on_postgres(path: Path, workdir: Path) -> tuple[dict[str, object], float, float, float, float]:
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"leadbridge_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    try:
        return run_import(url, path, workdir)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
