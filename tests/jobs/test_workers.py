"""Scaled mode on real Redis + PostgreSQL with two real ``celery -A leadbridge.jobs.app worker`` processes.

- two workers flushing the same targets never claim the same outbox row, and every row is sent;
- polls of one connection never overlap, whichever worker runs them;
- a SIGKILLed worker's claimed rows are taken over and its work resumes in under 120 s, with
  nothing lost and each record held once by the (upserting) remote.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.jobs.app import app
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.sync import outbox
from leadbridge.sync.outbox import OutboxStatus
from leadbridge.sync.steps import FLUSH_OUTBOX, POLL_SOURCE
from tests.conftest import IN_CI, REDIS_URL
from tests.jobs.cluster import Cluster, reset_tables, run_queue, send, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.postgres]


@pytest.fixture(scope="module")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if IN_CI:
            raise RuntimeError(f"Redis is required in CI but unreachable at {REDIS_URL}: {error}") from error
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    return REDIS_URL


@pytest.fixture
def make_cluster(postgres_url: str, redis_url: str, tmp_path: Path) -> Iterator[type[Cluster]]:
    reset_tables(postgres_url, "outbox", "checkpoints")
    app.conf.broker_url = redis_url
    started: list[Cluster] = []

    def make(**env: str) -> Cluster:
        cluster = Cluster(postgres_url, redis_url, tmp_path, queue=run_queue(), **env)
        started.append(cluster)
        return cluster

    yield make  # type: ignore[misc]
    for cluster in started:
        cluster.stop()
    app.conf.broker_url = "memory://"


def enqueue(database: Database, targets: list[str], per_target: int) -> int:
    with database.transaction() as session:
        for target in targets:
            for i in range(per_target):
                outbox.enqueue(
                    session,
                    target=target,
                    kind="lead_status",
                    lead_id=f"L-{i}",
                    idempotency_key=f"{target}:{i}",
                    payload={},
                    now=utcnow(),
                )
    return len(targets) * per_target


def sent(database: Database) -> int:
    snap = take_snapshot(database)
    return sum(t.by_status.get(OutboxStatus.SENT.value, 0) for t in snap.outbox.values())


def claims(cluster: Cluster) -> list[tuple[int, str, float]]:
    found = []
    for raw in cluster.redis.lrange(f"{cluster.queue}:claims", 0, -1):
        row_id, worker, at = raw.decode().split("|")
        found.append((int(row_id), worker, float(at)))
    return found


def remote(cluster: Cluster, targets: list[str]) -> dict[str, int]:
    held: dict[str, int] = {}
    for target in targets:
        found = cluster.redis.hgetall(f"{cluster.queue}:remote:{target}")
        held.update({k.decode(): int(v) for k, v in found.items()})
    return held


def test_given_two_workers_on_the_same_targets_then_no_row_is_claimed_twice_and_all_are_sent(
    make_cluster: type[Cluster], postgres_url: str
) -> None:
    database = Database(postgres_url)
    targets = ["home", "acme", "beta"]
    total = enqueue(database, targets, 150)
    cluster = make_cluster()
    cluster.start_worker("w1", concurrency=3)
    cluster.start_worker("w2", concurrency=3)
    cluster.wait_ready("w1", "w2")
    for target in targets:  # several flushes of one target at once: they compete for the same rows
        for _ in range(3):
            send(cluster, FLUSH_OUTBOX, target)
    assert wait_until(lambda: sent(database) == total, timeout=60), cluster.logs()

    claimed = claims(cluster)
    per_row = Counter(row_id for row_id, _, _ in claimed)
    assert len(per_row) == total and max(per_row.values()) == 1  # SKIP LOCKED: never the same row twice
    assert len({worker for _, worker, _ in claimed}) == 2  # both workers took part
    held = remote(cluster, targets)
    assert len(held) == total and set(held.values()) == {1}


def test_given_many_polls_of_one_connection_at_once_then_they_never_overlap(
    make_cluster: type[Cluster], postgres_url: str
) -> None:
    cluster = make_cluster()
    cluster.start_worker("w1", concurrency=3)
    cluster.start_worker("w2", concurrency=3)
    cluster.wait_ready("w1", "w2")
    for _ in range(3):
        for _ in range(6):
            send(cluster, POLL_SOURCE, "home")
        time.sleep(0.4)

    def polls() -> list[tuple[float, float]]:
        raw = [p.decode().split("|") for p in cluster.redis.lrange(f"{cluster.queue}:polls", 0, -1)]
        return sorted((float(start), float(end)) for _, start, end, _ in raw)

    assert wait_until(lambda: cluster.redis.llen(cluster.queue) == 0, timeout=30), cluster.logs()
    time.sleep(1.0)  # let the last polls finish
    windows = polls()
    assert 1 <= len(windows) < 18  # some polls skipped because another held the lease
    for (_, end), (start, _) in itertools.pairwise(windows):
        assert start >= end, f"two polls of one connection overlapped: {windows}"
    assert take_snapshot(Database(postgres_url)).last_sync.get("home") is not None


@pytest.mark.slow
def test_given_a_worker_killed_mid_batch_then_its_claims_are_taken_over_within_120s(
    make_cluster: type[Cluster], postgres_url: str
) -> None:
    database = Database(postgres_url)
    targets = ["home", "acme"]
    total = enqueue(database, targets, 120)
    cluster = make_cluster(WORKLOAD_SEND_DELAY_S="0.25")
    victim = cluster.start_worker("victim", concurrency=2)
    cluster.start_worker("survivor", concurrency=2)
    cluster.start_beat()  # runs the sweeper every 10 s
    cluster.wait_ready("victim", "survivor")
    for target in targets:
        send(cluster, FLUSH_OUTBOX, target)
        send(cluster, FLUSH_OUTBOX, target)
    victim_id = f":{victim.pid}"
    assert wait_until(lambda: any(w.endswith(victim_id) for _, w, _ in claims(cluster)), timeout=30)
    time.sleep(0.1)  # mid-batch: the victim holds claimed rows it has not sent
    cluster.kill("victim")
    killed_at = time.time()
    with database.transaction() as session:
        stranded = {
            row.id
            for row in outbox.list_rows(session, status=OutboxStatus.CLAIMED.value, limit=1000)
            if (row.claimed_by or "").endswith(victim_id)
        }
    assert stranded, "the victim held no claim when it was killed"

    assert wait_until(lambda: sent(database) == total, timeout=150, interval=0.5), cluster.logs()
    takeover = min(at for row_id, worker, at in claims(cluster) if row_id in stranded and at > killed_at)
    resumed_s = takeover - killed_at
    held = remote(cluster, targets)
    lost = total - len(held)
    print(f"\nkilled worker's claims: {len(stranded)}; resumed after {resumed_s:.1f} s; lost = {lost}")
    assert lost == 0 and resumed_s < 120
