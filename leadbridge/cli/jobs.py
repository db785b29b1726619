"""``leadbridge worker``, ``leadbridge beat`` (scaled mode) and ``leadbridge status``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from leadbridge.cli.context import Table, console, database, fail, print_json, serving_settings, settings
from leadbridge.core.settings import Settings

NEEDS_BROKER = (
    "{command} runs only in scaled mode: set LEADBRIDGE_BROKER_URL=redis://… (and a PostgreSQL "
    "database_url). In embedded mode `leadbridge run` runs background jobs in-process."
)


def _scaled_settings(command: str) -> Settings:
    if not settings().broker_url:
        raise fail(NEEDS_BROKER.format(command=f"`leadbridge {command}`"))
    current = serving_settings(command)
    database()
    from leadbridge.ops.logs import configure_logging

    configure_logging(current.log_level)
    return current


def worker(
    concurrency: Annotated[int, typer.Option(help="tasks run at once by this worker")] = 4,
    pool: Annotated[str, typer.Option(help="threads (default; I/O-bound steps) or prefork")] = "threads",
    metrics_port: Annotated[
        int | None, typer.Option(help="serve this worker's Prometheus metrics on 127.0.0.1:PORT")
    ] = None,
) -> None:
    """Run a Celery worker for leadbridge's background steps (scaled mode)."""
    current = _scaled_settings("worker")
    from leadbridge.jobs.app import configure, queue_name

    app = configure(current)
    if metrics_port:
        from prometheus_client import start_http_server

        from leadbridge.ops.metrics import REGISTRY

        start_http_server(metrics_port, addr="127.0.0.1", registry=REGISTRY)
    app.worker_main(
        [
            "worker",
            f"--pool={pool}",
            f"--concurrency={concurrency}",
            f"--queues={queue_name()}",
            f"--loglevel={current.log_level}",
            f"--hostname=leadbridge-{os.getpid()}@%h",
            "--without-gossip",
            "--without-mingle",
        ]
    )


def beat(
    schedule_file: Annotated[
        Path | None, typer.Option("--schedule-file", help="where beat keeps its state")
    ] = None,
) -> None:
    """Run Celery beat with the schedule from the configuration (scaled mode; one per deployment)."""
    current = _scaled_settings("beat")
    from leadbridge.jobs.app import configure
    from leadbridge.sync.leases import lease

    app = configure(current)
    state = schedule_file or current.base_dir / ".leadbridge-beat-schedule"
    # Two beats would publish every tick twice; the lease makes a second one refuse to start.
    with lease(database(), "beat") as held:
        if not held:
            raise fail("another `leadbridge beat` is already running against this database")
        app.start(["beat", f"--schedule={state}", f"--loglevel={current.log_level}"])


def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Queue depths, the oldest pending work and the last successful sync per connection."""
    from leadbridge.cli.status_report import collect_status

    data = collect_status(settings(), database())
    if as_json:
        print_json(data)
        return
    _print_status(data)


def _age(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:,.0f}s"


def _print_status(data: dict[str, Any]) -> None:
    console.print(f"[bold]mode[/] {data['mode']}   [bold]database[/] {data['database']}")
    broker = data["broker"]
    if broker is not None:
        if broker["error"]:
            console.print(f"[red]broker unreachable:[/] {broker['error']}")
        else:
            console.print(f"[bold]broker[/] queued {broker['queued']}, in flight {broker['unacked']}")
    leads = ", ".join(f"{state} {n}" for state, n in sorted(data["leads_by_state"].items())) or "none"
    console.print(f"[bold]leads[/] {leads}")
    oldest = data["oldest_pending_s"]
    console.print(
        f"[bold]oldest pending[/] unrouted lead {_age(oldest['unrouted_lead'])}, "
        f"offer {_age(oldest['pending_offer'])} ({data['offers_pending']} pending), "
        f"outbox {_age(oldest['outbox'])}"
    )
    swept = data["last_sweep_age_s"]
    console.print(
        f"[bold]reconcile[/] last sweep {_age(swept) if swept is not None else 'never'} ago, "
        f"{data['due_at_last_sweep']} item(s) due then, the oldest waiting {_age(data['oldest_due_age_s'])}"
    )
    table = Table("outbox target", "waiting", "by status", "oldest waiting")
    for name, target in sorted(data["outbox"].items()):
        by_status = ", ".join(f"{s} {n}" for s, n in sorted(target["by_status"].items()))
        table.add_row(name, str(target["waiting"]), by_status, _age(target["oldest_waiting_age_s"]))
    console.print(table)
    syncs = Table("connection", "last successful sync")
    for name, stamp in sorted(data["last_sync"].items()):
        syncs.add_row(name, str(stamp) if stamp else "never")
    console.print(syncs)


def register(app: typer.Typer) -> None:
    app.command()(worker)
    app.command()(beat)
    app.command()(status)
