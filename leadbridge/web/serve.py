"""Serving from several processes: ``leadbridge run --workers N``.

Rules:
- each server process builds its own app — settings, engine and connection pool, session
  listeners — when it starts (uvicorn calls ``worker_app`` in the new process), so no pooled
  connection or listener is ever shared across a fork;
- several processes need PostgreSQL: SQLite admits one writer at a time, and one process on SQLite
  in WAL mode is what embedded installs run (``run`` refuses ``--workers`` > 1 on SQLite);
- background work never runs once per server process: in scaled mode (a broker) the servers only
  publish kicks and Celery workers and beat do the work; in embedded mode the scheduler and the
  mail loop run in one separate process started beside the servers (``scheduler_main``);
- static assets are served with ``Cache-Control`` (an hour, revalidated by ETag afterwards), so a
  phone loads the stylesheet and script once, not on every inbox page.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from leadbridge.core.settings import Settings

CONFIG_ENV = "LEADBRIDGE_CONFIG"


def _settings() -> Settings:
    from leadbridge.connectors.registry import default_registry

    config = os.environ.get(CONFIG_ENV)
    return default_registry().load_settings(Path(config) if config else None)


def worker_app() -> FastAPI:
    """The app of one server process (uvicorn's factory): built here, after the process started."""
    from leadbridge.jobs.background import background_starter
    from leadbridge.runtime import build_runtime
    from leadbridge.web.app import create_app

    rt = build_runtime(_settings())
    # scaled mode: publish kicks to the broker; embedded: the scheduler process does the work
    starters = [background_starter(rt)] if rt.settings.broker_url else []
    return create_app(rt, background=starters)


def scheduler_main(config: str | None) -> None:
    """Embedded mode beside several servers: the schedule, the steps and the mail loop, once."""
    if config:
        os.environ[CONFIG_ENV] = config
    from leadbridge.jobs.background import background_starter
    from leadbridge.notify.dispatch import mail_starter
    from leadbridge.runtime import build_runtime
    from leadbridge.web.app import create_app

    rt = build_runtime(_settings())
    app: Any = create_app(rt)  # never served: its state (database, mailer) feeds the starters
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stops = [start(app) for start in (background_starter(rt), mail_starter(rt.settings))]
    try:
        stopped.wait()
    finally:
        for stop in reversed(stops):
            stop()
