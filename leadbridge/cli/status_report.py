"""``leadbridge status``: queue depths, the oldest pending work, and the last successful sync per connection.

Rules:
- the database snapshot (``ops/snapshot.py``) gives leads, offers, outbox and last syncs;
- in scaled mode the broker adds its own depths: messages waiting in the queue and messages
  delivered but not yet acknowledged (work in flight, or stranded by a dead worker until the
  visibility timeout returns it); an unreachable broker is reported, not raised;
- every configured polled connection appears, with ``null`` when it never synced.
"""

from __future__ import annotations

from typing import Any

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.jobs.app import queue_name
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.sync.reconcile import polled_connections

UNACKED_KEY = "unacked"  # kombu's Redis hash of delivered, unacknowledged messages


def broker_depths(broker_url: str) -> dict[str, Any]:
    """Queue length and in-flight count from Redis, or the error that prevented reading them."""
    import redis

    client = redis.Redis.from_url(broker_url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return {"queued": client.llen(queue_name()), "unacked": client.hlen(UNACKED_KEY), "error": None}
    except redis.RedisError as error:
        return {"queued": None, "unacked": None, "error": str(error)}
    finally:
        client.close()


def collect_status(settings: Settings, database: Database | None = None) -> dict[str, Any]:
    """Everything ``leadbridge status`` shows, as plain data (the ``--json`` document)."""
    database = database or Database(settings.sqlalchemy_url)
    snap = take_snapshot(database)
    data = snap.as_dict()
    data["mode"] = "scaled" if settings.broker_url else "embedded"
    data["database"] = database.safe_url
    data["broker"] = broker_depths(settings.broker_url) if settings.broker_url else None
    last_sync: dict[str, Any] = {name: None for name, _step, _every in polled_connections(settings)}
    last_sync.update(snap.last_sync)
    data["last_sync"] = last_sync
    oldest_outbox = [t.oldest_waiting_age_s for t in snap.outbox.values() if t.oldest_waiting_age_s]
    data["oldest_pending_s"] = {
        "unrouted_lead": snap.oldest_unrouted_lead_age_s,
        "pending_offer": snap.oldest_pending_offer_age_s,
        "outbox": max(oldest_outbox, default=None),
    }
    return data
