"""Load check of the partner inbox: 50 concurrent partner sessions against a real ``leadbridge run``.

What it does:
1. creates a throw-away project on SQLite (the embedded default) with 50 partners, one partner user
   each, and ``--offers`` open offers per partner;
2. starts ``leadbridge run`` (with its in-process scheduler) as a separate process on loopback;
3. signs every partner user in through a real magic link (GET the link, POST the form);
4. runs 50 sessions at once, each like a person on a phone with think time between taps: list the
   inbox, open an offer, accept it, open the lead, record a status; repeated ``--rounds`` times;
5. prints latency figures for every page request, and the CPU the server processes (with the
   scheduler) and this client spent per request (``cpu_s:``; Linux ``/proc``); the last two lines are
   ``inbox_p95_ms: N`` and ``inbox_errors: N`` (target: p95 < 100 ms, 0 errors).

Run: ``.venv/bin/python bench/inbox_load.py [--sessions 50] [--rounds 3] [--think 2.0] [--no-scheduler]
[--workers N] [--database sqlite|postgres]``. ``--workers 2`` serves from two processes
(``leadbridge run --workers 2``) and then needs PostgreSQL (a throw-away database, the default
with more than one worker).

Think time is drawn uniformly from 0 to twice ``--think`` before each tap (default mean 2 s: a
person reading a lead on a phone). ``--think 0.5`` is a stress setting that offers ~150 requests/s,
more than one SQLite-backed process serves on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from email.message import Message
from pathlib import Path
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import sqlalchemy as sa

from leadbridge.connectors.registry import default_registry
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import Lead, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.web.accounts import create_partner_user
from leadbridge.web.sessions import issue_magic_link
from tests.conftest import _pg_admin_url

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
OFFER_LINK = re.compile(r'href="/inbox/offers/(O-[0-9a-f]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(database: Database, sessions: int, offers: int) -> list[str]:
    """Partners, users and pending offers; returns one magic-link token per partner user."""
    tokens = []
    with database.transaction() as session:
        for number in range(sessions):
            partner, _ = PartnerRepository(session).upsert(
                Partner(
                    name=f"Bench Partner {number}",
                    external_id=f"BENCH-{number}",
                    product_lines=["heat_pumps"],
                )
            )
            user = create_partner_user(session, partner.id, f"user{number}@bench.example")
            for index in range(offers):
                lead = Lead(
                    source_connection="bench",
                    external_id=f"B-{number}-{index}",
                    first_name="Test",
                    last_name=f"Lead {index}",
                    email=f"l{number}x{index}@example.com",
                    company=f"Firma {number}-{index}",
                    industry="manufacturing",
                    employees=40,
                    address={"postal_code": "80331", "country": "DE"},
                    product_interests=["heat_pumps"],
                    stage="sql",
                    consent={"share_with_partners": True},
                )
                take_in(session, lead)
                LeadService(session).apply(
                    lead.id, EventKind.ROUTE, actor="bench", idempotency_key=f"route:{lead.id}"
                )
                OfferService(session).create(
                    lead.id,
                    partner.id,
                    round=1,
                    mode="assign",
                    deadline=utcnow() + timedelta(hours=8),
                    decision=None,
                )
            tokens.append(issue_magic_link(session, user))
    return tokens


@dataclass
class Reply:
    status_code: int
    text: str
    headers: Message


class Browser:
    """One phone: a keep-alive HTTP/1.1 connection and its cookies, without following redirects.

    The standard library's ``http.client`` costs a fraction of httpx's CPU per request (measured:
    httpx took 5.7 ms per request, a third of what the servers took), and the client shares the
    cores with the servers it measures. Latency is still taken around the whole request as the
    client sees it."""

    def __init__(self, base: str, timeout: float = 30) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(
            parts.hostname or "127.0.0.1", parts.port, timeout=timeout
        )
        self.cookies: dict[str, str] = {}
        self.used = False

    def request(self, method: str, path: str, data: dict[str, str] | None = None) -> Reply:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = urlencode(data) if data is not None else None
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            response = self._send(method, path, body, headers)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not self.used:
                raise
            # The server closed the idle keep-alive connection before this request reached it
            # (uvicorn: 5 s idle): as a browser does, open a new one and send it again.
            self.connection.close()
            response = self._send(method, path, body, headers)
        self.used = True
        text = response.read().decode()
        for value in response.headers.get_all("set-cookie") or []:
            name, _, rest = value.partition("=")
            if "max-age=0" in value.lower():
                self.cookies.pop(name.strip(), None)
            else:
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return Reply(response.status, text, response.headers)

    def _send(
        self, method: str, path: str, body: str | None, headers: dict[str, str]
    ) -> http.client.HTTPResponse:
        self.connection.request(method, path, body=body, headers=headers)
        return self.connection.getresponse()

    def close(self) -> None:
        self.connection.close()


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies_ms: list[float] = []
        self.by_page: dict[str, list[float]] = {}
        self.errors: list[str] = []

    def request(
        self, client: Browser, method: str, url: str, data: dict[str, str] | None = None
    ) -> Reply | None:
        started = time.perf_counter()
        try:
            response = client.request(method, url, data)
        except (http.client.HTTPException, OSError) as error:
            with self.lock:
                self.errors.append(f"{method} {url}: {error}")
            return None
        elapsed = (time.perf_counter() - started) * 1000
        with self.lock:
            self.latencies_ms.append(elapsed)
            page = re.sub(r"/(O|L)-[0-9a-f]+", r"/{\1}", re.sub(r"/signin/\S+", "/signin/{token}", url))
            self.by_page.setdefault(f"{method} {page}", []).append(elapsed)
            if response.status_code >= 400:
                self.errors.append(f"{method} {url}: HTTP {response.status_code}")
        return response


def partner_session(base: str, token: str, rounds: int, think: float, seed_value: int, rec: Recorder) -> None:
    """One person on a phone: sign in, then per round list → offer → accept → lead → status."""
    rng = random.Random(seed_value)
    time.sleep(rng.uniform(0, 4 * think))  # people do not all open their mail in the same millisecond
    client = Browser(base)
    try:
        _session_flow(client, token, rounds, think, rng, rec)
    finally:
        client.close()


def _session_flow(
    client: Browser, token: str, rounds: int, think: float, rng: random.Random, rec: Recorder
) -> None:
    page = rec.request(client, "GET", f"/inbox/signin/{token}")
    if page is None:
        return
    csrf = CSRF.search(page.text)
    if csrf is None:
        rec.errors.append("no CSRF token on the sign-in page")
        return
    rec.request(client, "POST", f"/inbox/signin/{token}", data={"csrf_token": csrf.group(1)})
    for _ in range(rounds):
        time.sleep(rng.uniform(0, 2 * think))
        inbox = rec.request(client, "GET", "/inbox")
        if inbox is None:
            continue
        offers = OFFER_LINK.findall(inbox.text)
        if not offers:
            continue
        time.sleep(rng.uniform(0, 2 * think))
        offer_page = rec.request(client, "GET", f"/inbox/offers/{offers[0]}")
        if offer_page is None or (token_match := CSRF.search(offer_page.text)) is None:
            continue
        time.sleep(rng.uniform(0, 2 * think))
        accepted = rec.request(
            client, "POST", f"/inbox/offers/{offers[0]}/accept", data={"csrf_token": token_match.group(1)}
        )
        if accepted is None or accepted.status_code != 303:
            continue
        lead_path = accepted.headers["location"].split("?")[0]
        lead_page = rec.request(client, "GET", lead_path)
        if lead_page is None or (token_match := CSRF.search(lead_page.text)) is None:
            continue
        time.sleep(rng.uniform(0, 2 * think))
        rec.request(
            client,
            "POST",
            f"{lead_path}/status",
            data={"csrf_token": token_match.group(1), "status": "contacted"},
        )
        rec.request(client, "GET", lead_path)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) spent so far by ``pid`` and its live descendants (Linux ``/proc``;
    0 elsewhere). Read before and after the load: the servers' share of the machine, per request."""
    total, pending = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (OSError, ValueError, IndexError):
            continue
    return total


def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode()[-3000:] if process.stderr else ""
            raise SystemExit(f"leadbridge run exited with {process.returncode}\n{err}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("leadbridge run did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--offers", type=int, default=3)
    parser.add_argument("--think", type=float, default=2.0, help="mean think time between taps (s)")
    parser.add_argument("--no-scheduler", action="store_true", help="run the server without its scheduler")
    parser.add_argument("--workers", type=int, default=1, help="server processes (leadbridge run --workers)")
    parser.add_argument(
        "--database", choices=["sqlite", "postgres"], help="default: sqlite for 1 worker, else postgres"
    )
    args = parser.parse_args()
    backend = args.database or ("sqlite" if args.workers == 1 else "postgres")
    with throwaway_database(backend) as url:
        run_load(args, url, backend)


@contextmanager
def throwaway_database(backend: str) -> Iterator[str]:
    """A SQLite file in the project (``sqlite:///bench.db``) or a throw-away PostgreSQL database."""
    if backend == "sqlite":
        yield "sqlite:///bench.db"
        return
    admin = sa.create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT")
    name = f"leadbridge_inbox_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(_pg_admin_url()).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_load(args: argparse.Namespace, url: str, backend: str) -> None:

    with tempfile.TemporaryDirectory(prefix="lb-bench-") as tmp:
        project = Path(tmp)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        (project / "leadbridge.yaml").write_text(
            f"database_url: {url}\npublic_url: {base}\n"
            f"secret_key: {secrets.token_urlsafe(48)}\npolicy: null\n"
        )
        settings = default_registry().load_settings(project / "leadbridge.yaml")
        database = Database(settings.sqlalchemy_url)
        database.upgrade()
        tokens = seed(database, args.sessions, max(args.offers, args.rounds))
        database.engine.dispose()
        leadbridge = Path(sys.executable).with_name("leadbridge")
        env = {**os.environ, "LEADBRIDGE_CONFIG": str(project / "leadbridge.yaml")}
        process = subprocess.Popen(
            [
                str(leadbridge),
                "run",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                *(["--no-background"] if args.no_scheduler else []),
            ],
            cwd=project,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until_up(base, process)
            rec = Recorder()
            started = time.perf_counter()
            server_cpu, client_cpu = tree_cpu_s(process.pid), time.process_time()
            with ThreadPoolExecutor(max_workers=args.sessions) as pool:
                for index, token in enumerate(tokens):
                    pool.submit(partner_session, base, token, args.rounds, args.think, index, rec)
            wall = time.perf_counter() - started
            server_cpu = tree_cpu_s(process.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
        finally:
            process.terminate()
            process.wait(timeout=20)
    latencies = sorted(rec.latencies_ms)
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    for page, values in sorted(rec.by_page.items()):
        values.sort()
        print(
            f"  {page:<38} n={len(values):<4} p50={statistics.median(values):7.1f} "
            f"p95={values[int(0.95 * (len(values) - 1))]:7.1f} ms"
        )
    for error in rec.errors[:10]:
        print(f"error: {error}")
    load = os.getloadavg()[0]
    print(f"sessions: {args.sessions}  rounds: {args.rounds}  requests: {len(latencies)}  wall_s: {wall:.1f}")
    print(
        f"database: {backend}  workers: {args.workers}  scheduler: {'off' if args.no_scheduler else 'on'}  "
        f"host load average (1 min): {load:.1f}"
    )
    served = max(len(latencies), 1)
    print(
        f"cpu_s: server {server_cpu:.1f} (all server processes and the scheduler), client {client_cpu:.1f}; "
        f"per request: server {1000 * server_cpu / served:.1f} ms, client {1000 * client_cpu / served:.1f} ms"
    )
    if latencies:
        print(f"p50_ms: {statistics.median(latencies):.1f}  max_ms: {latencies[-1]:.1f}")
    print(f"inbox_p95_ms: {p95:.0f}")
    print(f"inbox_errors: {len(rec.errors)}")


if __name__ == "__main__":
    main()
