"""Loaded into the fault test's workers (``--include tests.jobs.faultload``): the real engine steps,
routed by the sync tests' deterministic stand-in router (the routing executor is tested on its own),
and a ready signal the test waits for."""

from __future__ import annotations

import os

import redis
from celery.signals import worker_ready

from leadbridge.jobs import engine
from leadbridge.jobs.app import queue_name
from tests.sync.routers import round_robin_router

engine.use_router(round_robin_router)


@worker_ready.connect
def _announce(**_: object) -> None:
    redis.Redis.from_url(os.environ["LEADBRIDGE_BROKER_URL"]).rpush(f"{queue_name()}:ready", str(os.getpid()))
