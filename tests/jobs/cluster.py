"""Real Celery worker and beat processes for integration tests, on PostgreSQL and Redis."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]


def reset_broker(url: str, queue: str) -> None:
    """Drop what a run left under its own queue name (other runs on the same Redis are untouched)."""
    client = redis.Redis.from_url(url)
    keys = [queue, *(k.decode() for k in client.scan_iter(f"{queue}:*"))]
    client.delete(*keys)
    client.close()


def reset_tables(database_url: str, *tables: str) -> None:
    with sa.create_engine(database_url).begin() as conn:
        for table in tables:
            conn.exec_driver_sql(f'DELETE FROM "{table}"')


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


_NOTABLE = re.compile(r"CRITICAL|ERROR|WARNING|Unrecoverable|Traceback|Error:")


class Cluster:
    """``celery -A leadbridge.jobs.app`` workers and beat with the test workload; all stopped at the end."""

    def __init__(self, database_url: str, broker_url: str, workdir: Path, *, queue: str, **env: str) -> None:
        self.workdir = workdir
        self.queue = queue  # one queue per test run: parallel runs on one Redis stay apart
        inherited = {k: v for k, v in os.environ.items() if k != "LEADBRIDGE_CONFIG"}
        self.env = {
            **inherited,
            "PYTHONPATH": str(ROOT),
            "LEADBRIDGE_DATABASE_URL": database_url,
            "LEADBRIDGE_BROKER_URL": broker_url,
            "LEADBRIDGE_LOG_LEVEL": "INFO",
            "LEADBRIDGE_QUEUE": queue,
            **env,
        }
        self.broker_url = broker_url
        self.redis = redis.Redis.from_url(broker_url)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def _start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.workdir / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "leadbridge.jobs.app", *args],
            cwd=self.workdir,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[name] = process
        return process

    def start_worker(
        self, name: str, *, concurrency: int = 2, include: str = "tests.jobs.workload", pool: str = "threads"
    ) -> subprocess.Popen[bytes]:
        return self._start(
            name,
            [
                "worker",
                f"--include={include}",
                f"--pool={pool}",
                f"--concurrency={concurrency}",
                f"--queues={self.queue}",
                f"--hostname={name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
        )

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self._start(
            "beat", ["beat", f"--schedule={self.workdir / 'beat-schedule'}", "--loglevel=INFO"]
        )

    def wait_ready(self, *names: str, timeout: float = 60) -> None:
        pids = {str(self.processes[name].pid) for name in names}

        def ready() -> bool:
            return pids <= {p.decode() for p in self.redis.lrange(f"{self.queue}:ready", 0, -1)}

        if not wait_until(ready, timeout):
            raise AssertionError(f"workers {names} not ready in {timeout}s: {self.logs()}")

    def kill(self, name: str) -> None:
        process = self.processes[name]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)

    def logs(self) -> str:
        """Each process's warnings and errors (the first 40), then the tail of its log."""
        parts = []
        for path in self.workdir.glob("*.log"):
            text = path.read_text(errors="replace")
            notable = [line for line in text.splitlines() if _NOTABLE.search(line)][:40]
            parts.append(f"--- {path.name}\n" + "\n".join(notable) + f"\n... tail:\n{text[-3000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        reset_broker(self.broker_url, self.queue)
        self.redis.close()


def run_queue() -> str:
    """A queue name of its own for one test run."""
    return f"leadbridge-test-{uuid.uuid4().hex[:8]}"


def send(cluster: Cluster, step: str, *args: str) -> None:
    """Publish ``step(*args)`` straight to the cluster's queue (no de-duplication)."""
    from leadbridge.jobs.app import app
    from leadbridge.jobs.schedule import task_name

    app.send_task(task_name(step), args=list(args), queue=cluster.queue)
