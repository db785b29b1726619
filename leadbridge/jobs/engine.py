"""The engine's functions as background steps: reload by name or id, call one engine function.

Rules:
- connectors are built from the configuration once per worker thread and reused (a login per
  task would cost a CRM call each time); the event→outbox projector is installed for the
  process's settings before any step runs, so events appended by workers queue their writes;
- a flush claims with ``CLAIM_LEASE`` as its stale-claim limit, so a dead worker's rows are taken
  over as soon as the sweeper notices (well under 120 s), not after the outbox's 5-minute default;
- a flush that stopped on an error has already recorded the failed try and its backoff in the
  outbox; the step does not retry on top of that (the sweeper re-publishes it when it is due);
- speed-to-lead (intake → offer delivered to the partner) is observed for each delivered offer.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs import steps
from leadbridge.jobs.leases import lease
from leadbridge.jobs.steps import Followup, JobContext
from leadbridge.jobs.sweeper import CLAIM_LEASE
from leadbridge.ops.metrics import SPEED_TO_LEAD

log = logging.getLogger(__name__)

ROUTE_BUSY_RETRY_S = 0.5
FLUSH_BUSY_RETRY_S = 0.25
# A routing or flush task keeps draining newly due work (routing leads that arrived meanwhile,
# sending rows queued meanwhile) for up to this long before handing over to a follow-up task: under
# load, batches grow by themselves instead of many tasks each taking a handful of rows.
DRAIN_S = 20.0
# Outbox retries are the second tier (each call was already retried by the connector): tries 5, 10,
# 20, 40, 80 s apart rather than the cycle's 30 s-doubling — the sweeper looks every 10 s anyway,
# and a row-lock or a brief outage should not hold a lead's delivery back for many minutes.
OUTBOX_RETRY_BASE_S = 5.0
_local = threading.local()
_projector_lock = threading.Lock()
_projected_for: int | None = None


def _prepare(settings: Settings) -> None:
    """Install the event→outbox projector for ``settings`` once per process."""
    global _projected_for
    with _projector_lock:
        if _projected_for == id(settings):
            return
        from leadbridge.sync import projector
        from leadbridge.sync.projector import SyncTargets

        projector.install(SyncTargets.from_settings(settings))
        _projected_for = id(settings)


def connector(ctx: JobContext, name: str) -> Any:
    """This thread's connector for connection ``name`` (built on first use)."""
    from leadbridge.sync.connections import connector_for

    cache: dict[tuple[int, str], Any] = getattr(_local, "connectors", None) or {}
    _local.connectors = cache
    key = (id(ctx.settings), name)
    if key not in cache:
        built = connector_for(ctx.settings, name)
        if built is None:
            raise steps.StepNotWired(
                f"connection {name!r} ({ctx.settings.connection(name).kind}) is not synced"
            )
        cache[key] = built
    return cache[key]


def poll_source(ctx: JobContext, connection: str) -> list[Followup]:
    """Pull leads from a manufacturer CRM; new qualified leads are kicked to routing on commit."""
    from leadbridge.sync.pull import pull_manufacturer

    _prepare(ctx.settings)
    stats = pull_manufacturer(ctx.database, connector(ctx, connection))
    log.info("pulled %d records from %s (%d new)", stats.read, connection, stats.created)
    return []


def poll_partner(ctx: JobContext, connection: str) -> list[Followup]:
    """Pull claims, statuses and outcomes from a partner CRM."""
    from leadbridge.sync.pull import pull_partner

    _prepare(ctx.settings)
    config = ctx.settings.connection(connection)
    stats = pull_partner(ctx.database, connector(ctx, connection), partner_external_id=config.partner_id)
    log.info("pulled %d partner records from %s", stats.read, connection)
    # declines, expiries and returns leave leads waiting for their next round
    return [Followup(steps.ROUTE_LEAD, (steps.ROUTE_ALL,))] if stats.events else []


def _default_router(ctx: JobContext, deadline: float) -> tuple[int, bool]:
    from leadbridge.core.router import policy_from_settings, route_pending

    summary = route_pending(ctx.database, policy=policy_from_settings(ctx.settings), deadline=deadline)
    return summary.routed, summary.more


_router: Callable[[JobContext, float], tuple[int, bool]] = _default_router


def use_router(router: Callable[[Database], int] | None) -> None:
    """Route with ``router`` (``route_pending(database) -> routed``) in this process; None: the real one."""
    global _router
    _router = _default_router if router is None else (lambda ctx, _deadline: (router(ctx.database), False))


def route(ctx: JobContext, lead_id: str) -> list[Followup]:
    """Route every waiting lead, ``lead_id`` included; one router at a time over the database.

    The router works on all waiting leads at once, so kicks carry ``ROUTE_ALL`` and collapse into
    one queued task. Two routers at once would race for the same leads: the second waits for the
    lease by retrying shortly (bounded; a lead left over is the sweeper's). The holder drains: it
    routes again while its last pass found leads, for up to ``DRAIN_S``.
    """
    _prepare(ctx.settings)
    with lease(ctx.database, "route") as held:
        if not held:
            raise steps.Busy("another worker is routing", retry_after=ROUTE_BUSY_RETRY_S)
        deadline, routed = time.monotonic() + DRAIN_S, 0
        while True:
            done, more = _router(ctx, deadline)
            routed += done
            if more or (done and time.monotonic() > deadline):
                log.info("routed %d leads; more are waiting", routed)
                return [Followup(steps.ROUTE_LEAD, (steps.ROUTE_ALL,))]
            if not done:
                break
    if routed:
        log.info("routed %d leads", routed)
    return []


def sla_tick(ctx: JobContext) -> list[Followup]:
    """Expire offers past their deadline, record reminders and escalations, move expired leads on."""
    from leadbridge.core.router import policy_from_settings
    from leadbridge.core.sla_tick import sla_tick as tick

    _prepare(ctx.settings)
    summary = tick(ctx.database, policy=policy_from_settings(ctx.settings))
    if summary.expired or summary.reminded or summary.escalated:
        log.info(
            "SLA: %d expired, %d reminded, %d escalated", summary.expired, summary.reminded, summary.escalated
        )
    return []


def flush_outbox(ctx: JobContext, target: str) -> list[Followup]:
    """Send the due outbox rows of one target (module rules); one flusher per target at a time.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` either way; the per-target lease makes a flush
    that arrives while another runs wait briefly and then take everything queued meanwhile in one
    batch, rather than run beside it on a handful of rows. The holder drains for up to ``DRAIN_S``.
    """
    from leadbridge.core.retry import RetryPolicy
    from leadbridge.sync.deliver import flush
    from leadbridge.sync.outbox import OutboxSettings
    from leadbridge.sync.writers import HomeWriter, PartnerWriter

    retries = OutboxSettings(
        stale_after=CLAIM_LEASE, backoff=RetryPolicy(base=OUTBOX_RETRY_BASE_S, cap=600.0)
    )

    _prepare(ctx.settings)
    config = ctx.settings.connection(target)
    conn = connector(ctx, target)
    writer = PartnerWriter(conn) if config.role == "partner" else HomeWriter(conn)
    with lease(ctx.database, f"flush:{target}") as held:
        if not held:
            raise steps.Busy(f"another worker is flushing {target}", retry_after=FLUSH_BUSY_RETRY_S)
        drain_until = time.monotonic() + DRAIN_S
        while True:
            stats = flush(ctx.database, target, writer, worker=ctx.worker_id, clock=utcnow, settings=retries)
            if config.role == "partner" and stats.written_leads:
                _observe_speed_to_lead(ctx, stats.written_leads, utcnow())
            if stats.stopped:
                log.warning(
                    "flush of %s stopped (%s): %s", target, stats.stopped, "; ".join(stats.errors)[:500]
                )
                return []
            if not stats.rows:
                return []
            if time.monotonic() > drain_until:
                return [Followup(steps.FLUSH_OUTBOX, (target,))]


def _observe_speed_to_lead(ctx: JobContext, lead_ids: list[str], delivered_at: datetime) -> None:
    """Intake (the lead's creation) → its offer written into the partner's CRM, per delivered lead."""
    with ctx.database.transaction() as session:
        received = session.execute(select(LeadRow.created_at).where(LeadRow.id.in_(set(lead_ids)))).scalars()
        for created_at in received:
            SPEED_TO_LEAD.observe(max(0.0, (delivered_at - created_at).total_seconds()))


ENGINE_MODULES = (
    "leadbridge.core.router",
    "leadbridge.core.sla_tick",
    "leadbridge.sync.connections",
    "leadbridge.sync.deliver",
    "leadbridge.sync.projector",
    "leadbridge.sync.pull",
    "leadbridge.sync.writers",
    "leadbridge.connectors.salesforce",
    "leadbridge.connectors.hubspot",
)


def warm_up() -> None:
    """Import what the steps import lazily, so a worker pays for it at start, not on its first lead
    (the modules are lazy so that importing ``leadbridge.jobs`` stays cheap for the CLI)."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)


def wire() -> None:
    """Register the engine's steps (``steps.resolve`` calls this once)."""
    steps.register_default(steps.POLL_SOURCE, steps.exclusive_poll(poll_source))
    steps.register_default(steps.POLL_PARTNER, steps.exclusive_poll(poll_partner))
    steps.register_default(steps.ROUTE_LEAD, route)
    steps.register_default(steps.FLUSH_OUTBOX, flush_outbox)
    steps.register_default(steps.SLA_TICK, sla_tick)
