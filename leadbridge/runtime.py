"""The one composition root: everything a process needs, built once from ``Settings``.

Rules:
- ``build_runtime(settings)`` is the only place that wires: it creates the ``Database`` and attaches
  the event→outbox projector and the after-commit kicks to *its own* sessionmaker (never to
  SQLAlchemy's ``Session`` class), and holds the step table, the dispatcher, the mailer, the clock
  and the routing policy. Nothing here is process-global: two runtimes in one process (two tests, a
  CLI command beside a web app) never see each other's listeners or steps;
- building is cheap and touches no network: no database connection (the engine connects on first
  use), no CRM login, no broker. A Celery child builds it in ``worker_process_init`` and a CLI
  command on first use, so ``leadbridge sync --help`` and ``leadbridge init`` work with no config;
- the web app (``create_app(rt)``), the workers, the embedded scheduler and every CLI command
  receive a runtime; tests build their own (with their own dispatcher, clock or steps).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from leadbridge.core.model import utcnow
from leadbridge.core.policy import Policy
from leadbridge.core.privacy import withdrawal
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.notify.mailer import Mailer, SmtpMailer
from leadbridge.sync import kicks, projector
from leadbridge.sync.dispatch import Dispatcher, Relay
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.steps import JobContext, StepTable
from leadbridge.sync.work import step_table

Clock = Callable[[], datetime]


def _policy_of(settings: Settings) -> Policy:
    from leadbridge.core.router import policy_from_settings

    return policy_from_settings(settings)


def worker_id() -> str:
    """This process's name in claims and leases: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Runtime:
    """What every entry point receives (module rules). ``dispatcher`` is a ``Relay``: the embedded
    scheduler or a Celery publisher plugs in while it runs."""

    settings: Settings
    db: Database
    steps: StepTable
    dispatcher: Relay
    mailer: Mailer
    clock: Clock = utcnow
    targets: SyncTargets = field(default_factory=SyncTargets)
    extra: dict[str, Any] = field(default_factory=dict)  # per-runtime caches (connectors per thread)

    @cached_property
    def policy(self) -> Policy:
        """The routing policy of the settings (loaded on first use: `init` has none yet)."""
        from leadbridge.core.router import policy_from_settings

        return policy_from_settings(self.settings)

    def context(self, worker: str | None = None) -> JobContext:
        """A job context for running steps in this runtime (shares its caches)."""
        return JobContext(
            settings=self.settings,
            database=self.db,
            worker_id=worker or worker_id(),
            steps=self.steps,
            dispatcher=self.dispatcher,
            extra=self.extra,
        )


def build_runtime(
    settings: Settings,
    *,
    dispatcher: Dispatcher | None = None,
    clock: Clock = utcnow,
    mailer: Mailer | None = None,
    steps: StepTable | None = None,
    targets: SyncTargets | None = None,
) -> Runtime:
    """Wire one runtime for ``settings`` (module rules); every argument but ``settings`` is for
    callers that bring their own part (a test's recording dispatcher, a fake clock, a workload)."""
    db = Database(settings.sqlalchemy_url)
    relay = Relay(dispatcher)
    sync_targets = targets if targets is not None else SyncTargets.from_settings(settings)
    projector.attach(db, sync_targets)
    kicks.attach(db, relay)
    withdrawal.attach(db, lambda: _policy_of(settings).privacy.consent_withdrawal)
    return Runtime(
        settings=settings,
        db=db,
        steps=steps or step_table(),
        dispatcher=relay,
        mailer=mailer or SmtpMailer(settings.smtp_host, settings.smtp_port, settings.smtp_sender),
        clock=clock,
        targets=sync_targets,
    )
