"""The engine's functions as background steps: reload by name or id, call one engine function.

Rules:
- connectors are built from the configuration once per worker thread and reused (a login per
  task would cost a CRM call each time); the cache belongs to the job context (its runtime), and
  the event→outbox projector sits on the runtime's database, so events appended by steps queue
  their writes without any step preparing anything;
- a flush claims with ``CLAIM_LEASE`` as its stale-claim limit, so a dead worker's rows are taken
  over as soon as the reconcile loop notices (well under 120 s), not after the outbox's 5-minute default;
- a flush that stopped on an error has already recorded the failed try and its backoff in the
  outbox; the step does not retry on top of that (the reconcile loop publishes it again when it is due);
- speed-to-lead (intake → offer delivered to the partner) is observed for each delivered offer.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import LeadRow
from leadbridge.ops.metrics import SPEED_TO_LEAD
from leadbridge.sync import steps, timers
from leadbridge.sync.leases import lease
from leadbridge.sync.reconcile import CLAIM_LEASE, SLA_TICK_S, poll_interval
from leadbridge.sync.steps import Followup, JobContext, Step, StepTable

log = logging.getLogger(__name__)

ROUTE_BUSY_RETRY_S = 0.5
FLUSH_BUSY_RETRY_S = 0.25
# A routing or flush task keeps draining newly due work (routing leads that arrived meanwhile,
# sending rows queued meanwhile) for up to this long before handing over to a follow-up task: under
# load, batches grow by themselves instead of many tasks each taking a handful of rows.
DRAIN_S = 20.0
# Outbox retries are the second tier (each call was already retried by the connector): tries 5, 10,
# 20, 40, 80 s apart rather than the cycle's 30 s-doubling — the reconcile loop looks every 10 s anyway,
# and a row-lock or a brief outage should not hold a lead's delivery back for many minutes.
OUTBOX_RETRY_BASE_S = 5.0
_CONNECTORS = "connectors"  # ctx.extra key: this context's per-thread connector cache


def connector(ctx: JobContext, name: str) -> Any:
    """This thread's connector for connection ``name`` (built on first use)."""
    from leadbridge.sync.connections import connector_for, event_connector_for

    local: threading.local = ctx.extra.setdefault(_CONNECTORS, threading.local())
    cache: dict[str, Any] = getattr(local, "connectors", None) or {}
    local.connectors = cache
    if name not in cache:
        built = connector_for(ctx.settings, name) or event_connector_for(ctx.settings, name)
        if built is None:
            raise steps.StepNotWired(
                f"connection {name!r} ({ctx.settings.connection(name).kind}) is not synced"
            )
        cache[name] = built
    return cache[name]


def _poll_begins(ctx: JobContext, connection: str) -> None:
    """Move the connection's poll timer one ``poll_seconds`` on before reading: the reconcile loop
    polls it again then — also after this poll crashed, but never in a tight loop."""
    every_s = poll_interval(ctx.settings, connection)
    with ctx.database.transaction() as session:
        timers.start(session, timers.poll_timer(connection), now=utcnow(), every_s=every_s)


def poll_source(ctx: JobContext, connection: str) -> list[Followup]:
    """Pull leads from a manufacturer CRM; new qualified leads are kicked to routing on commit."""
    from leadbridge.sync.pull import pull_manufacturer

    _poll_begins(ctx, connection)
    stats = pull_manufacturer(ctx.database, connector(ctx, connection))
    log.info("pulled %d records from %s (%d new)", stats.read, connection, stats.created)
    return []


def poll_partner(ctx: JobContext, connection: str) -> list[Followup]:
    """Pull claims, statuses and outcomes from a partner CRM."""
    from leadbridge.sync.pull import pull_partner

    _poll_begins(ctx, connection)
    config = ctx.settings.connection(connection)
    stats = pull_partner(ctx.database, connector(ctx, connection), partner_external_id=config.partner_id)
    log.info("pulled %d partner records from %s", stats.read, connection)
    # declines, expiries and returns leave leads waiting for their next round
    return [Followup(steps.ROUTE_LEAD, (steps.ROUTE_ALL,))] if stats.events else []


def _route_pass(ctx: JobContext, deadline: float) -> tuple[int, bool]:
    from leadbridge.core.router import policy_from_settings, route_pending

    summary = route_pending(
        ctx.database,
        policy=policy_from_settings(ctx.settings),
        deadline=deadline,
        stats_max_age=ctx.settings.routing_stats_max_age_s,
    )
    return summary.routed, summary.more


RoutePass = Callable[[JobContext, float], tuple[int, bool]]  # (ctx, deadline) -> (routed, more waiting)


def route_step(route_pass: RoutePass = _route_pass) -> Step:
    """The ``route_lead`` step around one routing pass (the real router's by default)."""

    def route(ctx: JobContext, lead_id: str) -> list[Followup]:
        """Route every waiting lead, ``lead_id`` included; one router at a time over the database.

        The router works on all waiting leads at once, so kicks carry ``ROUTE_ALL`` and collapse into
        one queued task. Two routers at once would race for the same leads: the second waits for the
        lease by retrying shortly (bounded; a lead left over is the reconcile loop's). The holder
        drains: it routes again while its last pass found leads, for up to ``DRAIN_S``.
        """
        with lease(ctx.database, "route") as held:
            if not held:
                raise steps.Busy("another worker is routing", retry_after=ROUTE_BUSY_RETRY_S)
            deadline, routed = time.monotonic() + DRAIN_S, 0
            while True:
                done, more = route_pass(ctx, deadline)
                routed += done
                if more or (done and time.monotonic() > deadline):
                    log.info("routed %d leads; more are waiting", routed)
                    return [Followup(steps.ROUTE_LEAD, (steps.ROUTE_ALL,))]
                if not done:
                    break
        if routed:
            log.info("routed %d leads", routed)
        return []

    return route


def sla_tick(ctx: JobContext) -> list[Followup]:
    """Expire offers past their deadline, record reminders and escalations, move expired leads on."""
    from leadbridge.core.router import policy_from_settings
    from leadbridge.core.sla_tick import sla_tick as tick

    with ctx.database.transaction() as session:
        timers.start(session, timers.SLA, now=utcnow(), every_s=SLA_TICK_S)
    summary = tick(ctx.database, policy=policy_from_settings(ctx.settings))
    with ctx.database.transaction() as session:
        timers.succeeded(session, timers.SLA, now=utcnow())
    if summary.expired or summary.reminded or summary.escalated:
        log.info(
            "SLA: %d expired, %d reminded, %d escalated", summary.expired, summary.reminded, summary.escalated
        )
    return []


def rollup_reports(ctx: JobContext) -> list[Followup]:
    """Refresh the reports' daily pre-aggregates (``core/reports/rollup.py``); one refresher at a time."""
    from leadbridge.core.reports.rollup import ROLLUP_S, refresh

    with lease(ctx.database, steps.ROLLUP_REPORTS) as held:
        if not held:
            return []  # another worker is refreshing: its run covers this one's days
        with ctx.database.transaction() as session:
            timers.start(session, timers.ROLLUP, now=utcnow(), every_s=ROLLUP_S)
        with ctx.database.transaction() as session:
            days = refresh(session, now=utcnow())
            timers.succeeded(session, timers.ROLLUP, now=utcnow())
    if days:
        log.info("reports: %d days rolled up", len(days))
    return []


def flush_outbox(ctx: JobContext, target: str) -> list[Followup]:
    """Send the due outbox rows of one target (module rules); one flusher per target at a time.

    Rows are claimed with ``FOR UPDATE SKIP LOCKED`` either way; the per-target lease makes a flush
    that arrives while another runs wait briefly and then take everything queued meanwhile in one
    batch, rather than run beside it on a handful of rows. The holder drains for up to ``DRAIN_S``.
    """
    from leadbridge.core.retry import RetryPolicy
    from leadbridge.sync.connections import receives_events
    from leadbridge.sync.deliver import Writer, flush
    from leadbridge.sync.outbox import OutboxSettings
    from leadbridge.sync.partner_events import EVENT_BATCH, EVENT_RETRIES, EventWriter
    from leadbridge.sync.performance_push import with_performance
    from leadbridge.sync.writers import HomeWriter, PartnerWriter

    retries = OutboxSettings(
        stale_after=CLAIM_LEASE, backoff=RetryPolicy(base=OUTBOX_RETRY_BASE_S, cap=600.0)
    )

    config = ctx.settings.connection(target)
    conn = connector(ctx, target)
    writer: Writer
    claim_limit = 5000
    if receives_events(ctx.settings, target):
        # messages to a partner's endpoint: retried over hours (partner_events.EVENT_RETRIES)
        writer = EventWriter(conn, public_url=ctx.settings.public_url)
        retries, claim_limit = replace(EVENT_RETRIES, stale_after=CLAIM_LEASE), EVENT_BATCH
    else:
        writer = PartnerWriter(conn) if config.role == "partner" else with_performance(HomeWriter(conn), conn)
    with lease(ctx.database, f"flush:{target}") as held:
        if not held:
            raise steps.Busy(f"another worker is flushing {target}", retry_after=FLUSH_BUSY_RETRY_S)
        drain_until = time.monotonic() + DRAIN_S
        while True:
            stats = flush(
                ctx.database,
                target,
                writer,
                worker=ctx.worker_id,
                clock=utcnow,
                settings=retries,
                claim_limit=claim_limit,
            )
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


def push_performance(ctx: JobContext, target: str, *partner_ids: str) -> list[Followup]:
    """Queue the partner figures that changed for the home connection ``target`` — every partner
    (the schedule) or only ``partner_ids`` (a kick); ``sync/performance_push.py``. One run per
    connection at a time; the flush follows."""
    from leadbridge.sync.performance_push import push

    with lease(ctx.database, f"performance:{target}") as held:
        if not held:
            if partner_ids:  # the running pass may have read the partner before its change
                raise steps.Busy(f"performance of {target} is being computed", retry_after=1.0)
            return []  # another worker is computing this connection's figures right now
        wanted = list(partner_ids) or None
        summary = push(ctx.database, target, connector(ctx, target), now=utcnow(), partner_ids=wanted)
    if summary is None or not summary.queued:
        return []
    log.info("performance: %d partner(s) with changed figures queued for %s", len(summary.queued), target)
    return [Followup(steps.FLUSH_OUTBOX, (target,))]


PURGE_BATCH = 100  # leads erased per retention pass; a full pass hands over to a follow-up


def purge_expired(ctx: JobContext) -> list[Followup]:
    """Erase the leads past their state's retention (``sync/retention.py``), one pass at a time.

    The erasures queue ``erase`` rows for the CRMs that hold copies: their flushes are follow-ups
    (the reconcile loop would publish them anyway). A full batch asks for another pass at once."""
    from leadbridge.core.router import policy_from_settings
    from leadbridge.sync.projector import targets_of
    from leadbridge.sync.retention import purge_expired as purge

    with lease(ctx.database, "retention") as held:
        if not held:
            return []  # another worker is purging; the next sweep looks again
        privacy = policy_from_settings(ctx.settings).privacy
        with ctx.database.transaction() as session:
            targets = targets_of(session)
        reports = purge(ctx.database, privacy, targets, utcnow(), limit=PURGE_BATCH)
    if reports:
        log.info("retention: %d lead(s) erased", len(reports))
    told = {
        r.target
        for report in reports
        for r in report.recipients
        if r.target in targets.manufacturer | targets.partner
    }
    followups = [Followup(steps.FLUSH_OUTBOX, (target,)) for target in sorted(told)]
    if len(reports) >= PURGE_BATCH:
        followups.append(Followup(steps.PURGE_EXPIRED))
    return followups


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
    "leadbridge.sync.partner_events",
    "leadbridge.connectors.salesforce",
    "leadbridge.connectors.hubspot",
)


def warm_up() -> None:
    """Import what the steps import lazily, so a worker pays for it at start, not on its first lead
    (the modules are lazy so that importing ``leadbridge.jobs`` stays cheap for the CLI)."""
    for name in ENGINE_MODULES:
        importlib.import_module(name)


def step_table() -> StepTable:
    """Every step name → the engine function that runs it (the runtime's default table)."""
    from leadbridge.sync.reconcile import reconcile_step

    table: dict[str, Step] = {
        steps.POLL_SOURCE: steps.exclusive_poll(poll_source),
        steps.POLL_PARTNER: steps.exclusive_poll(poll_partner),
        steps.ROUTE_LEAD: route_step(),
        steps.FLUSH_OUTBOX: flush_outbox,
        steps.SLA_TICK: sla_tick,
        steps.RECONCILE: reconcile_step,
        steps.PURGE_EXPIRED: purge_expired,
        steps.ROLLUP_REPORTS: rollup_reports,
        steps.PUSH_PERFORMANCE: push_performance,
    }
    return StepTable(table)
