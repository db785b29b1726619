"""The periodic schedule: one ``reconcile`` entry, used by Celery beat and the embedded scheduler.

Rules:
- the schedule has a single entry, ``reconcile`` every ``RECONCILE_S``: what is due — polls of CRM
  connections (each every its ``poll_seconds``), the SLA tick, routing, outbox flushes — is read
  from the database by the reconcile loop (``sync/reconcile.py``), not fixed here per connection,
  so a missed tick, a restarted beat or a second beat loses or doubles nothing;
- a periodic message expires after one interval: if workers are behind, the next tick replaces it
  instead of queueing up behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadbridge.core.settings import Settings
from leadbridge.sync import steps

RECONCILE_S = 10.0


@dataclass(frozen=True)
class Entry:
    """Run ``step(*args)`` every ``every_s`` seconds; ``name`` is unique in the schedule."""

    name: str
    step: str
    args: tuple[str, ...]
    every_s: float


def schedule(_settings: Settings, *, every_s: float = RECONCILE_S) -> list[Entry]:
    """Every periodic job, per the module rules (the settings are read by the loop itself)."""
    return [Entry(steps.RECONCILE, steps.RECONCILE, (), every_s)]


def task_name(step: str) -> str:
    """The Celery task name of a step."""
    return f"leadbridge.{step}"


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The schedule in Celery beat's format."""
    return {
        entry.name: {
            "task": task_name(entry.step),
            "schedule": entry.every_s,
            "args": list(entry.args),
            "options": {"expires": entry.every_s},
        }
        for entry in schedule(settings)
    }
