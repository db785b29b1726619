"""``leadbridge run --workers N``: N server processes on PostgreSQL, the scheduler once beside them."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from leadbridge.core.intake import take_in
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner, Territory
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from tests.conftest import _truncate


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *descendants(child)]
    return found


def project(tmp_path: Path, url: str, port: int) -> Path:
    config = tmp_path / "leadbridge.yaml"
    config.write_text(
        f"database_url: {url}\npublic_url: http://127.0.0.1:{port}\n"
        f"secret_key: {secrets.token_urlsafe(48)}\npolicy: null\n"
    )
    return config


def start(config: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    leadbridge = Path(sys.executable).with_name("leadbridge")
    return subprocess.Popen(
        [str(leadbridge), "run", "--port", str(port), "--workers", str(workers)],
        cwd=config.parent,
        env={**os.environ, "LEADBRIDGE_CONFIG": str(config)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


# Generous: each spawned server imports the whole app; on a loaded shared 2-core machine that took ~55 s.
def wait_until_up(base: str, process: subprocess.Popen[bytes], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            _, err = process.communicate()
            raise AssertionError(f"leadbridge run exited {process.returncode}: {err.decode()[-2000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError("leadbridge run did not come up")


@pytest.mark.postgres
def test_given_postgres_when_run_with_two_workers_then_both_serve_and_the_one_scheduler_routes(
    postgres_url: str, tmp_path: Path
) -> None:
    _truncate(postgres_url)
    database = Database(postgres_url)
    with database.transaction() as session:
        PartnerRepository(session).upsert(
            Partner(
                name="Alpha",
                external_id="A",
                territory=Territory(countries=["DE"]),
                product_lines=["heat_pumps"],
            )
        )
        lead = Lead(
            source_connection="api",
            external_id="W-1",
            email="w1@firma.example",
            address={"country": "DE", "postal_code": "80331"},
            product_interests=["heat_pumps"],
            stage="sql",
            consent={"share_with_partners": True},
        )
        lead_id = take_in(session, lead).lead_id  # qualified; nobody kicked: only a sweep finds it
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    process = start(project(tmp_path, postgres_url, port), port, workers=2)
    try:
        wait_until_up(base, process)
        # two servers and the scheduler (uvicorn's supervisor is the run process itself)
        spawned = descendants(process.pid)
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes() for pid in spawned]
        assert sum(b"multiprocessing" in c for c in commands) >= 3, commands
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: httpx.get(f"{base}/cockpit/login").status_code, range(40)))
        assert statuses == [200] * 40
        style = httpx.get(f"{base}/static/style.css")
        assert style.status_code == 200 and "max-age=" in style.headers["cache-control"]
        deadline = time.monotonic() + 90
        state = "qualified"
        while state == "qualified" and time.monotonic() < deadline:
            time.sleep(1)
            with database.transaction() as session:
                state = session.execute(select(LeadRow.state).where(LeadRow.id == lead_id)).scalar_one()
        assert state != "qualified"  # the scheduler process swept and routed it
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert left_running(spawned, within=20) == []  # nothing left behind


def left_running(pids: list[int], *, within: float) -> list[str]:
    """Command lines of ``pids`` still alive (not zombies) after waiting up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        alive = []
        for pid in pids:
            try:
                if Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z":
                    alive.append(Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"))
            except (FileNotFoundError, ProcessLookupError):
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.5)


def test_given_sqlite_when_run_with_two_workers_then_it_refuses_with_the_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'lb.db'}"
    Database(url).upgrade()
    port = free_port()
    process = start(project(tmp_path, url, port), port, workers=2)
    _, err = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "--workers needs PostgreSQL" in err.decode()
