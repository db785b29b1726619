"""One sync cycle: pull leads, pull partner updates, route, deliver to partners, write back.

Order matters: partner updates are pulled *before* anything is pushed to partners, so a push never
overwrites a status the partner set since the last cycle; routing runs after both pulls, so new
leads and re-routed ones (declined, returned) are offered in the same cycle; the write-back runs
last and carries every change of the cycle in as few calls as the batch limits allow — and, when the
home mapping has a ``partner_performance`` section and its timer is due, the partners' changed
figures onto their accounts (``sync/performance_push.py``). Partners on an
event connection (``webhook``) get their lead events right after the partner deliveries.

A step that stops (quota, an unreachable CRM) does not stop the others: each connection keeps its
own checkpoint and outbox, and the next cycle resumes where each one ended. A pull that finished
without error is recorded exactly as a background poll records it (``leadbridge status`` shows
it, and the reconcile loop's poll timer restarts), so a CLI ``sync`` counts as a poll.

The engine writes through ``database``'s sessions: pass a runtime's (``build_runtime(settings).db``),
whose projector queues the write-backs of what the cycle changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.leads import Clock
from leadbridge.core.model import utcnow
from leadbridge.core.settings import ConnectionConfig, Settings
from leadbridge.core.store.database import Database
from leadbridge.ops.snapshot import record_poll_success
from leadbridge.sync import timers
from leadbridge.sync.connections import event_connector_for
from leadbridge.sync.deliver import FlushStats, flush
from leadbridge.sync.outbox import OutboxSettings
from leadbridge.sync.partner_events import EVENT_BATCH, EVENT_RETRIES, EventWriter
from leadbridge.sync.performance_push import QueueSummary, due_targets, push, with_performance
from leadbridge.sync.pull import PullStats, pull_manufacturer, pull_partner
from leadbridge.sync.reconcile import poll_interval
from leadbridge.sync.routing import Router, route_pending
from leadbridge.sync.writers import HomeWriter, PartnerWriter

Progress = Callable[[str], None]


@dataclass
class CycleReport:
    pulled: list[PullStats] = field(default_factory=list)
    partner_updates: list[PullStats] = field(default_factory=list)
    routed: int = 0
    delivered: list[FlushStats] = field(default_factory=list)
    written_back: list[FlushStats] = field(default_factory=list)
    performance: list[QueueSummary] = field(default_factory=list)  # partner figures queued per home
    api_calls: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def stopped(self) -> list[str]:
        pulls = [(s.connection, s.stopped) for s in [*self.pulled, *self.partner_updates]]
        flushes = [(s.target, s.stopped) for s in [*self.delivered, *self.written_back]]
        return [f"{name}: {why}" for name, why in [*pulls, *flushes] if why]

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stopped"] = self.stopped
        return data


class SyncEngine:
    """Runs cycles over the configured connections (module docstring for the order)."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        connectors: dict[str, Any],
        *,
        router: Router | None = None,
        clock: Clock = utcnow,
        worker: str = "sync",
        outbox_settings: OutboxSettings | None = None,
        events: dict[str, Any] | None = None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.connectors = connectors
        self.router: Router = router or partial(route_pending, settings=settings)
        self.clock = clock
        self.worker = worker
        self.outbox_settings = outbox_settings or OutboxSettings()
        # event connections (webhook partners): built from the settings unless given (no network)
        self.events = events if events is not None else _event_connectors(settings)

    def _config(self, name: str) -> ConnectionConfig:
        return self.settings.connection(name)

    def _by_role(self, role: str, only: str | None) -> list[str]:
        return [
            name
            for name in self.connectors
            if self._config(name).role == role and (only is None or only == name)
        ]

    def run(self, only: str | None = None, progress: Progress | None = None) -> CycleReport:
        """One cycle over every connection (or only ``only``) — see the module docstring."""
        say: Progress = progress or (lambda _message: None)
        started = time.monotonic()
        before = {name: self._calls(name) for name in self.connectors}
        report = CycleReport()
        for name in self._by_role("manufacturer", only):
            say(f"pulling leads from {name}")
            report.pulled.append(self._guard(report, name, self._pull_leads))
        for name in self._by_role("partner", only):
            say(f"pulling partner updates from {name}")
            report.partner_updates.append(self._guard(report, name, self._pull_partner))
        say("routing")
        try:
            report.routed = self.router(self.database)
        except LeadbridgeError as error:
            report.errors.append(f"routing: {error}")
        for name in self._by_role("partner", only):
            say(f"delivering offers to {name}")
            report.delivered.append(self._flush(name, PartnerWriter(self.connectors[name])))
        for name, connector in self.events.items():
            if only is None or only == name:
                say(f"sending lead events to {name}")
                writer = EventWriter(connector, public_url=self.settings.public_url)
                report.delivered.append(self._flush(name, writer, EVENT_RETRIES, EVENT_BATCH))
        self._queue_performance(report, only, due_only=True)
        for name in self._by_role("manufacturer", only):
            say(f"writing back to {name}")
            home = with_performance(HomeWriter(self.connectors[name]), self.connectors[name])
            report.written_back.append(self._flush(name, home))
        report.api_calls = {name: self._calls(name) - before[name] for name in self.connectors}
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def _queue_performance(
        self,
        report: CycleReport,
        only: str | None,
        *,
        due_only: bool,
        partner_ids: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        now = self.clock()
        for name in self._by_role("manufacturer", only):
            if due_only:
                with self.database.transaction() as session:
                    if name not in due_targets([name], session, now):
                        continue
            try:
                summary = push(
                    self.database,
                    name,
                    self.connectors[name],
                    now=now,
                    partner_ids=partner_ids,
                    progress=progress,
                )
            except LeadbridgeError as error:
                report.errors.append(f"{name}: partner performance: {error}")
                continue
            if summary is not None:
                report.performance.append(summary)

    def push_performance(
        self,
        only: str | None = None,
        *,
        partner_ids: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> CycleReport:
        """Compute every partner's figures now (due or not; or only ``partner_ids``'), queue the
        changed ones and write them to the home connections (``leadbridge partners performance
        push``, with or without a worker running)."""
        started = time.monotonic()
        before = {name: self._calls(name) for name in self.connectors}
        report = CycleReport()
        self._queue_performance(report, only, due_only=False, partner_ids=partner_ids, progress=progress)
        for name in sorted({s.target for s in report.performance}):
            home = with_performance(HomeWriter(self.connectors[name]), self.connectors[name])
            report.written_back.append(self._flush(name, home))
        report.api_calls = {name: self._calls(name) - before[name] for name in self.connectors}
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def _flush(
        self, name: str, writer: Any, settings: OutboxSettings | None = None, claim_limit: int = 5000
    ) -> FlushStats:
        return flush(
            self.database,
            name,
            writer,
            worker=self.worker,
            clock=self.clock,
            settings=settings or self.outbox_settings,
            claim_limit=claim_limit,
        )

    def _pull_leads(self, name: str) -> PullStats:
        return pull_manufacturer(self.database, self.connectors[name], clock=self.clock)

    def _pull_partner(self, name: str) -> PullStats:
        partner = self._config(name).partner_id
        return pull_partner(
            self.database, self.connectors[name], partner_external_id=partner, clock=self.clock
        )

    def _guard(self, report: CycleReport, name: str, step: Callable[[str], PullStats]) -> PullStats:
        timer = timers.poll_timer(name)
        with self.database.transaction() as session:
            timers.start(session, timer, now=self.clock(), every_s=poll_interval(self.settings, name))
        try:
            stats = step(name)
        except LeadbridgeError as error:  # an unreachable or misconfigured CRM: the others go on
            report.errors.append(f"{name}: {error}")
            return PullStats(name, stopped="error", errors=[str(error)])
        if not stats.stopped:
            with self.database.transaction() as session:
                record_poll_success(session, name, worker=self.worker, at=self.clock())
                timers.succeeded(session, timer, now=self.clock())
        return stats

    def _calls(self, name: str) -> int:
        client = getattr(self.connectors[name], "client", None)
        return int(getattr(client, "calls", 0))


def _event_connectors(settings: Settings) -> dict[str, Any]:
    found = {name: event_connector_for(settings, name) for name in settings.connections}
    return {name: connector for name, connector in found.items() if connector is not None}
