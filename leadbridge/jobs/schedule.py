"""The periodic schedule, derived from the configuration; used by Celery beat and the embedded scheduler.

Rules:
- each manufacturer connection of a polled kind (``Capability.POLLED`` in the connector registry:
  Salesforce, HubSpot) is polled for leads every ``poll_seconds``; each partner one for claims,
  status and outcomes; other kinds (CSV, the inbox) push, so they are not polled;
- the SLA tick runs every ``SLA_TICK_S`` (offer deadlines fire within that) and the sweeper every
  ``SWEEP_S`` (re-publishing due outbox work and stranded leads, see ``jobs/sweeper.py``). Partner
  statistics need no job: each routing pass computes them from the offers and outcomes it loads;
- a periodic message expires after one interval: if workers are behind, the next tick replaces it
  instead of queueing up behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from leadbridge.connectors.registry import default_registry
from leadbridge.core.settings import CrmConnection, Settings
from leadbridge.jobs import steps
from leadbridge.ports import Capability, ConnectorRegistry

SLA_TICK_S = 30.0
SWEEP_S = 10.0


@dataclass(frozen=True)
class Entry:
    """Run ``step(*args)`` every ``every_s`` seconds; ``name`` is unique in the schedule."""

    name: str
    step: str
    args: tuple[str, ...]
    every_s: float


def schedule(settings: Settings, registry: ConnectorRegistry | None = None) -> list[Entry]:
    """Every periodic job for ``settings``, per the module rules."""
    kinds = registry or default_registry()
    entries: list[Entry] = []
    for name, connection in sorted(settings.connections.items()):
        if not (kinds.can(connection, Capability.POLLED) and isinstance(connection, CrmConnection)):
            continue
        step = steps.POLL_SOURCE if connection.role == "manufacturer" else steps.POLL_PARTNER
        entries.append(Entry(f"{step}:{name}", step, (name,), float(connection.poll_seconds)))
    entries += [
        Entry(steps.SLA_TICK, steps.SLA_TICK, (), SLA_TICK_S),
        Entry(steps.SWEEP, steps.SWEEP, (), SWEEP_S),
    ]
    return entries


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
