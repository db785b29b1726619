"""A stand-in workload that worker tests load into real Celery workers (``--include tests.jobs.workload``).

Its flush step uses the real outbox claims and "sends" to Redis, which plays a remote CRM that
upserts by idempotency key (``HINCRBY`` counts how often each record was written); every claim is
logged so a test can check that two workers never held the same row. Its poll step records the
time window it ran in, so a test can check that polls of one connection never overlap.
"""

from __future__ import annotations

import os
import time

import redis
from celery.signals import worker_ready

from leadbridge.core.model import utcnow
from leadbridge.jobs.app import queue_name
from leadbridge.jobs.tasks import runtime_ready
from leadbridge.runtime import Runtime
from leadbridge.sync import outbox, steps
from leadbridge.sync.reconcile import CLAIM_LEASE
from leadbridge.sync.steps import Followup, JobContext

REMOTE = redis.Redis.from_url(os.environ["LEADBRIDGE_BROKER_URL"])
PREFIX = queue_name()  # keys of this test run only
SEND_DELAY_S = float(os.environ.get("WORKLOAD_SEND_DELAY_S", "0.02"))
BATCH = 10
BATCHES_PER_RUN = 20  # a task stays short; what is left becomes a follow-up task


def flush(ctx: JobContext, target: str) -> list[Followup]:
    for _ in range(BATCHES_PER_RUN):
        with ctx.database.transaction() as session:
            rows = outbox.claim(
                session, target, worker=ctx.worker_id, now=utcnow(), limit=BATCH, stale_after=CLAIM_LEASE
            )
            batch = [(row.id, row.idempotency_key) for row in rows]
        if not batch:
            return []
        REMOTE.rpush(f"{PREFIX}:claims", *[f"{row_id}|{ctx.worker_id}|{time.time()}" for row_id, _ in batch])
        time.sleep(SEND_DELAY_S)  # the remote call
        for _, key in batch:
            REMOTE.hincrby(f"{PREFIX}:remote:{target}", key, 1)
        with ctx.database.transaction() as session:
            outbox.mark_sent(session, [row_id for row_id, _ in batch], worker=ctx.worker_id, now=utcnow())
    return [Followup(steps.FLUSH_OUTBOX, (target,))]


def poll(ctx: JobContext, connection: str) -> list[Followup]:
    started = time.time()
    time.sleep(0.3)
    REMOTE.rpush(f"{PREFIX}:polls", f"{connection}|{started}|{time.time()}|{ctx.worker_id}")
    return []


@runtime_ready.connect
def _swap_steps(runtime: Runtime, **_: object) -> None:
    """This worker's runtime runs the stand-in flush and poll (only this process's runtime)."""
    runtime.steps = runtime.steps.replace(
        **{steps.FLUSH_OUTBOX: flush, steps.POLL_SOURCE: steps.exclusive_poll(poll)}
    )


@worker_ready.connect
def _announce(**_: object) -> None:
    REMOTE.rpush(f"{PREFIX}:ready", str(os.getpid()))
