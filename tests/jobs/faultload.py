"""Loaded into the fault test's and the throughput bench's workers (``--include tests.jobs.faultload``):
the real engine steps with the real router (default policy), plus a ready signal the caller waits for."""

from __future__ import annotations

import os

import redis
from celery.signals import worker_ready

from leadbridge.jobs.app import queue_name


@worker_ready.connect
def _announce(**_: object) -> None:
    redis.Redis.from_url(os.environ["LEADBRIDGE_BROKER_URL"]).rpush(f"{queue_name()}:ready", str(os.getpid()))
