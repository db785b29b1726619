"""Liveness in scaled mode: PostgreSQL, Redis, real Celery worker processes and beat (one
``reconcile`` entry). The same actions through the same entry points; also a PostgreSQL restart
and a Redis restart in the middle of the flow: nothing lost, nothing stuck.

The restarts touch the shared local servers (other test runs use them too), so there are two of
them, each a few seconds long.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest
import redis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leadbridge.jobs.background import start_background
from leadbridge.jobs.tasks import app as celery_app
from tests.conftest import IN_CI, REDIS_URL, _truncate
from tests.jobs.cluster import Cluster, run_queue, wait_until
from tests.liveness.harness import Pipeline, a_pipeline
from tests.liveness.moves import apply, check_liveness, quiet, script

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def scaled(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Pipeline, Cluster]]:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        if IN_CI:
            raise
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {error}")
    _truncate(postgres_url)
    directory = tmp_path_factory.mktemp("scaled")
    queue = run_queue()
    previous_queue = os.environ.get("LEADBRIDGE_QUEUE")
    os.environ["LEADBRIDGE_QUEUE"] = queue  # this process publishes to the cluster's queue
    celery_app.conf.broker_url = REDIS_URL
    with a_pipeline(postgres_url, directory, broker_url=REDIS_URL) as pipeline:
        cluster = Cluster(
            postgres_url, REDIS_URL, directory, queue=queue, LEADBRIDGE_CONFIG=str(pipeline.config)
        )
        try:
            workers = [
                cluster.start_worker(name, concurrency=3, include="tests.jobs.faultload") for name in "ab"
            ]
            cluster.wait_ready("a", "b")
            assert workers
            cluster.start_beat()
            stop = start_background(pipeline.rt)  # the web process: kicks go to the workers
            try:
                yield pipeline, cluster
            finally:
                stop()
        finally:
            cluster.stop()
            if previous_queue is None:
                os.environ.pop("LEADBRIDGE_QUEUE", None)
            else:
                os.environ["LEADBRIDGE_QUEUE"] = previous_queue


def arrive(p: Pipeline, home: int, webhook: int, timeout: float = 90) -> list[str]:
    external = p.new_home_leads(home) + [p.new_webhook_lead() for _ in range(webhook)]
    assert wait_until(lambda: len(p.lead_ids(external)) == len(external), timeout), "leads never came in"
    return list(p.lead_ids(external).values())


@settings(
    max_examples=2,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example takes seconds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scripts=st.lists(script, min_size=2, max_size=3))
def test_given_any_sequence_of_actions_then_no_lead_stalls_with_workers_and_beat(
    scaled: tuple[Pipeline, Cluster], scripts: list[list[tuple[str, int]]]
) -> None:
    pipeline, _cluster = scaled
    leads = arrive(pipeline, len(scripts) - 1, 1)
    log: list[str] = []
    for step in range(max(len(s) for s in scripts)):
        for lead_id, moves in zip(leads, scripts, strict=True):
            if step < len(moves):
                before = pipeline.state(lead_id)
                log.append(f"{lead_id}@{before}: {moves[step]} -> {apply(pipeline, lead_id, *moves[step])}")
                quiet(pipeline, lead_id, before, timeout=60)
    check_liveness(pipeline, leads, log, timeout=180)


def _restart_postgres() -> None:
    versions = os.listdir("/etc/postgresql")
    assert shutil.which("pg_ctlcluster") and versions, "pg_ctlcluster and a cluster are needed"
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main", "restart"],
        check=True,
        timeout=120,
    )


def _restart_redis() -> None:
    # The same command .ci/run starts it with (no persistence: queued messages are lost on purpose).
    subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "shutdown", "nosave"], check=False, timeout=30
    )
    subprocess.run(
        ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379", "--save", "",
         "--appendonly", "no", "--dir", "/var/lib/redis", "--logfile", "/var/log/redis/ci.log"],
        check=True, timeout=30,
    )  # fmt: skip
    assert wait_until(lambda: _redis_up(), 30), "Redis did not come back"


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.mark.parametrize(
    "restart",
    [
        _restart_postgres,
        _restart_redis,
    ],
    ids=["postgres", "redis"],
)
def test_given_a_server_restart_in_the_middle_then_nothing_is_lost_or_stuck(
    scaled: tuple[Pipeline, Cluster], restart: object
) -> None:
    pipeline, cluster = scaled
    leads = arrive(pipeline, 4, 1)
    log = ["restart while the leads are being routed and delivered"]
    restart()  # type: ignore[operator]
    # Partners act right after: declines through the inbox/API re-route, the rest accept.
    for lead_id in leads:
        wait_until(lambda: pipeline.pending_offer(lead_id) is not None, 60)  # noqa: B023
        log.append(f"{lead_id}: {apply(pipeline, lead_id, 'decline', 1)}")
        quiet(pipeline, lead_id, "offered", timeout=60)
    try:
        check_liveness(pipeline, leads, log, timeout=240)
    except AssertionError as error:  # what the workers and beat saw is the first thing to read
        raise AssertionError(f"{error}\n{cluster.logs()}") from error
    assert cluster.processes["a"].poll() is None and cluster.processes["b"].poll() is None, cluster.logs()
