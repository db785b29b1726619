"""The reconcile loop: what leadbridge must do next, derived from the database — never from who
happened to call what.

Rules (one ``reconcile`` step, run every ``RECONCILE_S`` by the embedded scheduler and by Celery beat alike):
- each *predicate* is one indexed query over stored state returning ``Due`` items (step, args, and
  since when it is due):
  - ``waiting_leads``: leads the router must move on — ``qualified``, ``routing`` (a re-route),
    ``returned``, and ``offered`` with no pending or accepted offer left (all declined/expired) —
    once they have waited ``ROUTE_GRACE`` in their state (``state_changed_at``, which a status or
    reminder does not reset), so an after-commit kick still in flight is not doubled;
  - ``due_outbox``: targets with a ``pending`` row whose ``next_attempt_at`` has come (not the mail
    dead letters: the mail step resends those, ``notify/dead_letters.py``);
  - ``stale_claims``: targets with a row claimed longer than ``CLAIM_LEASE`` ago (its worker died);
  - ``due_polls``: polled CRM connections whose ``poll:<name>`` timer is due (``sync/timers.py``);
  - ``due_sla``: a pending offer past its deadline, or the ``sla`` timer due while leads are watched
    (reminders, escalations and stall timers are computed by the SLA tick itself);
  - ``due_retention``: a lead past its state's retention (policy ``privacy.retention_days``,
    ``sync/retention.py``): its personal data is purged by the ``purge_expired`` step; a policy
    that cannot be read skips only this predicate (the router reports the broken policy);
  - ``due_rollup``: the reports' daily pre-aggregates, when their ``rollup_reports`` timer is due;
  - ``due_performance``: home connections that write partner figures onto accounts
    (``Capability.ACCOUNTS``) whose ``performance:<name>`` timer is due (``sync/performance_push.py``);
- the items are de-duplicated by ``(step, args)`` and *published*, through the same dispatcher
  an after-commit kick uses. The loop never does the work itself, so two sweepers at once (two
  beats, a beat and a web process) are harmless: the dispatcher keeps one waiting copy of each
  ``(step, args)``, and the steps claim rows (CAS) and hold leases. A per-tick lease lets only one
  of two simultaneous sweeps publish at all;
- every sweep records itself (``reconcile`` timer: when, how many items, the oldest due item's
  age) for health: a sweep that stops is visible as a growing sweep age, not silence.
Kicks (``sync/kicks.py``) only make the same work happen sooner: losing every kick loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import OfferStatus, utcnow
from leadbridge.core.settings import CrmConnection, Settings
from leadbridge.core.store.tables import LeadRow, OfferRow, OutboxRow
from leadbridge.notify.dead_letters import MAIL_TARGET
from leadbridge.ports import Capability, ConnectorRegistry
from leadbridge.sync import timers
from leadbridge.sync.leases import lease
from leadbridge.sync.performance_push import account_homes, due_targets
from leadbridge.sync.retention import due_since
from leadbridge.sync.steps import (
    FLUSH_OUTBOX,
    POLL_PARTNER,
    POLL_SOURCE,
    PURGE_EXPIRED,
    PUSH_PERFORMANCE,
    ROLLUP_REPORTS,
    ROUTE_ALL,
    ROUTE_LEAD,
    SLA_TICK,
    Followup,
    JobContext,
)

log = logging.getLogger(__name__)

# A claim older than this belongs to a dead or hung worker and may be taken over. Longer than a
# flush of one batch can take (bounded by the connectors' retry budget), well under 120 s.
CLAIM_LEASE = timedelta(seconds=60)
ROUTE_GRACE = timedelta(seconds=5)
SLA_TICK_S = 30.0  # reminders and stall timers fire within this; offer deadlines at the next sweep

ROUTER_STATES = (LeadState.QUALIFIED.value, LeadState.ROUTING.value, LeadState.RETURNED.value)
OPEN_OFFERS = (OfferStatus.PENDING.value, OfferStatus.ACCEPTED.value)
SLA_WATCHED = (LeadState.OFFERED.value, LeadState.ACCEPTED.value, LeadState.WORKING.value)


@dataclass(frozen=True)
class Due:
    """One piece of work the database says is due: run ``step(*args)``; due since ``since``."""

    step: str
    args: tuple[str, ...]
    since: datetime


Predicate = Callable[[Session, datetime, Settings], Iterable[Due]]


def polled_connections(
    settings: Settings, registry: ConnectorRegistry | None = None
) -> list[tuple[str, str, float]]:
    """``(connection, poll step, every seconds)`` of every connection leadbridge polls — kinds with
    ``Capability.POLLED`` in the connector registry: the manufacturer's for leads, partners' for
    claims and outcomes (CSV and the inbox push, so they are not polled)."""
    kinds = registry or default_registry()
    return [
        (name, POLL_SOURCE if conn.role == "manufacturer" else POLL_PARTNER, float(conn.poll_seconds))
        for name, conn in sorted(settings.connections.items())
        if isinstance(conn, CrmConnection) and kinds.can(conn, Capability.POLLED)
    ]


def poll_interval(settings: Settings, connection: str) -> float:
    """How often ``connection`` is polled (a connection without a poll interval: once a minute)."""
    config = settings.connection(connection)
    return float(config.poll_seconds) if isinstance(config, CrmConnection) else 60.0


def waiting_leads(session: Session, now: datetime, _settings: Settings) -> Iterable[Due]:
    """Leads waiting on the router (module rules): one ``route_lead(ROUTE_ALL)`` covers them all."""
    open_offer = exists().where(OfferRow.lead_id == LeadRow.id, OfferRow.status.in_(OPEN_OFFERS))
    moved = select(func.min(LeadRow.state_changed_at)).where(
        LeadRow.state.in_(ROUTER_STATES), LeadRow.state_changed_at < now - ROUTE_GRACE
    )
    refused = select(func.min(LeadRow.state_changed_at)).where(
        LeadRow.state == LeadState.OFFERED.value, ~open_offer
    )
    oldest = [s for s in (session.execute(moved).scalar(), session.execute(refused).scalar()) if s]
    if oldest:
        yield Due(ROUTE_LEAD, (ROUTE_ALL,), min(oldest))


def due_outbox(session: Session, now: datetime, _settings: Settings) -> Iterable[Due]:
    """Targets with a pending row whose next try has come."""
    query = (
        select(OutboxRow.target, func.min(OutboxRow.next_attempt_at))
        .where(
            OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now, OutboxRow.target != MAIL_TARGET
        )
        .group_by(OutboxRow.target)
    )
    for target, since in session.execute(query):
        yield Due(FLUSH_OUTBOX, (target,), since)


def stale_claims(session: Session, now: datetime, _settings: Settings) -> Iterable[Due]:
    """Targets with a row whose claim outlived ``CLAIM_LEASE`` (its worker died or hung)."""
    query = (
        select(OutboxRow.target, func.min(OutboxRow.claimed_at))
        .where(
            OutboxRow.status == "claimed",
            OutboxRow.claimed_at < now - CLAIM_LEASE,
            OutboxRow.target != MAIL_TARGET,
        )
        .group_by(OutboxRow.target)
    )
    for target, claimed_at in session.execute(query):
        yield Due(FLUSH_OUTBOX, (target,), (claimed_at or now) + CLAIM_LEASE)


def due_polls(session: Session, now: datetime, settings: Settings) -> Iterable[Due]:
    """Polled connections whose poll timer is due (a never-polled connection: at once)."""
    polled = {timers.poll_timer(name): (name, step) for name, step, _every in polled_connections(settings)}
    for timer, since in timers.due(session, sorted(polled), now).items():
        name, step = polled[timer]
        yield Due(step, (name,), since)


def due_sla(session: Session, now: datetime, _settings: Settings) -> Iterable[Due]:
    """The SLA tick: an offer past its deadline now, or the tick's timer with leads to watch."""
    overdue = session.execute(
        select(func.min(OfferRow.deadline)).where(
            OfferRow.status == OfferStatus.PENDING.value, OfferRow.deadline <= now
        )
    ).scalar()
    if overdue is not None:
        yield Due(SLA_TICK, (), overdue)
        return
    timer = timers.due(session, [timers.SLA], now)
    if timer and session.execute(select(LeadRow.id).where(LeadRow.state.in_(SLA_WATCHED)).limit(1)).first():
        yield Due(SLA_TICK, (), timer[timers.SLA])


def due_retention(session: Session, now: datetime, settings: Settings) -> Iterable[Due]:
    """Leads past their state's retention (module rules): one ``purge_expired`` covers them all."""
    from leadbridge.core.router import policy_from_settings

    try:
        retention = policy_from_settings(settings).privacy.retention_days
    except LeadbridgeError as error:
        log.warning("retention not checked: %s", error)
        return
    since = due_since(session, retention, now)
    if since is not None:
        yield Due(PURGE_EXPIRED, (), since)


def due_rollup(session: Session, now: datetime, _settings: Settings) -> Iterable[Due]:
    """The reports' pre-aggregates: their timer is due (a fresh database: at once)."""
    for since in timers.due(session, [timers.ROLLUP], now).values():
        yield Due(ROLLUP_REPORTS, (), since)


def due_performance(session: Session, now: datetime, settings: Settings) -> Iterable[Due]:
    """Home connections whose partner figures are due to be computed (a new one: at once)."""
    for name, since in due_targets(account_homes(settings), session, now).items():
        yield Due(PUSH_PERFORMANCE, (name,), since)


PREDICATES: tuple[Predicate, ...] = (
    waiting_leads,
    due_outbox,
    stale_claims,
    due_polls,
    due_sla,
    due_retention,
    due_rollup,
    due_performance,
)


def due_work(session: Session, now: datetime, settings: Settings) -> list[Due]:
    """Every due item by the predicates, one per ``(step, args)`` (the oldest ``since`` kept)."""
    found: dict[tuple[str, tuple[str, ...]], Due] = {}
    for predicate in PREDICATES:
        for item in predicate(session, now, settings):
            key = (item.step, item.args)
            if key not in found or item.since < found[key].since:
                found[key] = item
    return sorted(found.values(), key=lambda d: (d.step, d.args))


def reconcile(ctx: JobContext, *, now: datetime | None = None) -> list[Due]:
    """One sweep (module rules): find the due work and record the sweep; the caller publishes."""
    now = now or utcnow()
    with lease(ctx.database, "reconcile") as held:
        if not held:
            return []  # another sweep is publishing this very moment
        with ctx.database.transaction() as session:
            work = due_work(session, now, ctx.settings)
            oldest = min((d.since for d in work), default=None)
            timers.record(
                session,
                timers.RECONCILE,
                now=now,
                detail={
                    "due": len(work),
                    "oldest_due_at": oldest.isoformat() if oldest else None,
                    "worker": ctx.worker_id,
                },
            )
    return work


def reconcile_step(ctx: JobContext) -> list[Followup]:
    """The ``reconcile`` step: the due work as follow-ups, which the runner publishes after it returns."""
    return [Followup(d.step, d.args) for d in reconcile(ctx)]
