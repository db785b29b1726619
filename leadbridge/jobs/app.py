"""The one Celery app (scaled mode): ``celery -A leadbridge.jobs.app worker`` or ``leadbridge worker``.

Delivery rules, and why:
- late acknowledgement and reject-on-worker-lost: a message is acknowledged only after its task
  finished, so a worker killed mid-task leaves the message to be delivered again;
- a Redis visibility timeout of ``VISIBILITY_TIMEOUT_S`` with a restore sweep every
  ``RESTORE_INTERVAL_S``: a SIGKILLed worker's unacknowledged messages go back to the queue within
  about 95 s (Celery's defaults: one hour, swept every 100 s). Every step is bounded well below the
  timeout (soft/hard time limits on prefork; steps do bounded batches), so a healthy task is never
  redelivered while it still runs — and if one ever is, steps are idempotent;
- no remote control (no PUBSUB subscription), so a Redis restart is a reconnect, not a crash;
- prefetch 1: a worker holds at most one message it is not working on, so a killed worker strands
  little and work spreads evenly over workers;
- results are not stored: tasks communicate through the database;
- the queue is ``leadbridge`` unless ``LEADBRIDGE_QUEUE`` names another, so several deployments
  (or test runs) can share one Redis without taking each other's work.
"""

from __future__ import annotations

import os
from typing import Any

import redis
from celery import Celery

from leadbridge.connectors.registry import default_registry
from leadbridge.core.settings import Settings
from leadbridge.jobs.schedule import beat_schedule, task_name

VISIBILITY_TIMEOUT_S = 90
RESTORE_INTERVAL_S = 5
TASK_SOFT_LIMIT_S = 60
TASK_HARD_LIMIT_S = 75
QUEUED_TTL_S = 120  # how long "already queued" suppresses a duplicate publish of the same work

app = Celery("leadbridge", include=["leadbridge.jobs.tasks"])
_settings: Settings | None = None


def celery_config(settings: Settings) -> dict[str, Any]:
    """The Celery configuration for ``settings`` (module rules)."""
    return {
        "broker_url": settings.broker_url or "memory://",
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            "visibility_timeout": VISIBILITY_TIMEOUT_S,
            "unacked_restore_interval": RESTORE_INTERVAL_S,
            "unacked_restore_throttle": 1,
        },
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_ignore_result": True,
        "result_backend": None,
        "task_soft_time_limit": TASK_SOFT_LIMIT_S,
        "task_time_limit": TASK_HARD_LIMIT_S,
        "task_default_queue": queue_name(),
        "worker_prefetch_multiplier": 1,
        "worker_hijack_root_logger": False,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        # No remote control: its broadcast channel is a Redis PUBSUB subscription, and a Redis
        # restart breaks kombu's PUBSUB reconnect with an "Unrecoverable error" that ends the worker
        # (seen in the liveness suite). leadbridge never uses `celery inspect`/`control`: workers
        # report through the database (``/readyz``, ``leadbridge status``) instead.
        "worker_enable_remote_control": False,
        "timezone": "UTC",
        "beat_schedule": beat_schedule(settings),
    }


def configure(settings: Settings) -> Celery:
    """Point the app at ``settings`` (broker, schedule); tasks read their settings from here."""
    global _settings
    _settings = settings
    app.conf.update(celery_config(settings))
    return app


def current_settings() -> Settings:
    """The settings the app was configured with (from the environment / ./leadbridge.yaml if none)."""
    if _settings is None:
        configure(default_registry().load_settings())
    assert _settings is not None
    return _settings


def queue_name() -> str:
    """The broker queue of this deployment (``$LEADBRIDGE_QUEUE``, default ``leadbridge``)."""
    return os.environ.get("LEADBRIDGE_QUEUE") or "leadbridge"


def queued_key(step: str, args: tuple[str, ...]) -> str:
    return f"{queue_name()}:queued:" + ":".join((step, *args))


class CeleryDispatcher:
    """Publishes steps to the broker, at most one waiting copy of the same ``(step, args)``."""

    def __init__(self, settings: Settings) -> None:
        if not settings.broker_url:
            raise ValueError("scaled mode needs LEADBRIDGE_BROKER_URL")
        self.redis = redis.Redis.from_url(settings.broker_url)

    def send(self, step: str, args: tuple[str, ...], countdown: float | None = None) -> None:
        """Queue ``step(*args)`` (after ``countdown`` s) unless the same work is already waiting."""
        key = queued_key(step, args)
        if not self.redis.set(key, "1", nx=True, ex=QUEUED_TTL_S):
            return  # the same work is already waiting in the queue
        try:
            app.send_task(task_name(step), args=list(args), queue=queue_name(), countdown=countdown)
        except Exception:
            self.redis.delete(key)
            raise

    def started(self, step: str, args: tuple[str, ...]) -> None:
        """A worker took the message: new work of the same kind needs a new message."""
        self.redis.delete(queued_key(step, args))


# `celery -A leadbridge.jobs.app` imports this module: configure from $LEADBRIDGE_* / leadbridge.yaml.
# `leadbridge worker --config X` calls ``configure`` again with its own settings.
configure(default_registry().load_settings())
