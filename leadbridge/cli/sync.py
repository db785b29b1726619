"""``leadbridge sync``, ``leadbridge connections check`` and ``leadbridge outbox list|retry``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leadbridge.cli.context import Table, console, err_console, fail, print_json, settings
from leadbridge.cli.context import database as _database
from leadbridge.core.model import utcnow
from leadbridge.sync import outbox
from leadbridge.sync.connections import build_connectors, connector_for, event_connector_for
from leadbridge.sync.cycle import CycleReport, SyncEngine

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]

connections_app = typer.Typer(help="Check the configured CRM connections.", no_args_is_help=True)
outbox_app = typer.Typer(help="Inspect and retry writes waiting for external systems.", no_args_is_help=True)


def sync(
    connection: Annotated[str | None, typer.Argument(help="only this connection (default: all)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Run one sync cycle: pull leads, pull partner updates, route, deliver offers, write back."""
    config = settings()
    database = _database()
    connectors = build_connectors(config, only=connection)
    if not connectors:
        raise fail("no Salesforce connection configured to sync (see `connections:` in leadbridge.yaml)")
    engine = SyncEngine(database, config, connectors, worker="cli-sync")
    if as_json:
        report = engine.run(connection)
        print_json(report.as_dict())
    else:
        with err_console.status("syncing…") as status:
            report = engine.run(connection, progress=lambda message: status.update(message))
        print_report(report)
    if report.errors or report.stopped:
        raise typer.Exit(1)


def print_report(report: CycleReport) -> None:
    """A person's summary of one cycle: one line per step and connection, then problems."""
    for pulled in report.pulled:
        console.print(
            f"[bold]{pulled.connection}[/] leads: {pulled.read} read, {pulled.created} new, "
            f"{pulled.updated} updated, {pulled.echoes} echoes skipped, {pulled.conflicts} conflicts, "
            f"{pulled.deleted} deleted, {pulled.quarantined} quarantined"
        )
    for pulled in report.partner_updates:
        console.print(
            f"[bold]{pulled.connection}[/] partner updates: {pulled.read} read, {pulled.events} events, "
            f"{pulled.echoes} echoes skipped, {pulled.conflicts} conflicts"
        )
    console.print(f"routed: {report.routed} lead(s)")
    for flushed in [*report.delivered, *report.written_back]:
        console.print(
            f"[bold]{flushed.target}[/] writes: {flushed.written} written, {flushed.failed} failed "
            f"({flushed.dead} dead-lettered) from {flushed.rows} outbox row(s)"
        )
    calls = ", ".join(f"{name} {count}" for name, count in report.api_calls.items())
    console.print(f"API calls: {calls or 'none'}; {report.seconds} s")
    for problem in [*report.errors, *report.stopped]:
        err_console.print(f"[yellow]attention:[/] {problem}")


@connections_app.command("check")
def check(
    connection: Annotated[str | None, typer.Argument(help="only this connection")] = None,
    as_json: JsonOption = False,
) -> None:
    """Log in to each connection and say what works and what to fix."""
    config = settings()
    names = [connection] if connection else list(config.connections)
    results: list[dict[str, Any]] = []
    for name in names:
        conn = config.connection(name)
        connector = connector_for(config, name) or event_connector_for(config, name)
        if connector is None:
            results.append({"connection": name, "kind": conn.kind, "ok": None, "message": "not a synced CRM"})
            continue
        result = connector.check()
        results.append(
            {
                "connection": name,
                "kind": conn.kind,
                "ok": result.ok,
                "message": result.message,
                **result.details,
            }
        )
    if as_json:
        print_json(results)
    else:
        for entry in results:
            mark = {True: "[green]ok[/]", False: "[red]FAIL[/]", None: "[dim]skip[/]"}[entry["ok"]]
            console.print(f"{mark} {entry['connection']} ({entry['kind']}): {entry['message']}")
    if any(entry["ok"] is False for entry in results):
        raise typer.Exit(1)


@connections_app.command("subscribe")
def subscribe(
    connection: Annotated[str, typer.Argument(help="the connection whose CRM should send webhooks")],
    url: Annotated[
        str | None, typer.Option(help="the public receiver URL (default: <public_url>/webhooks/<connection>)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Subscribe leadbridge's webhook receiver in the connection's CRM, for kinds whose API can
    (Pipedrive: every deal event, webhooks v2, the connection's HTTP Basic credentials); a second
    run finds the subscription instead of adding one."""
    config = settings()
    connector = connector_for(config, connection)
    subscribe_to = getattr(connector, "subscribe_webhooks", None)
    if subscribe_to is None:
        kind = config.connection(connection).kind
        raise fail(f"a {kind} connection's webhooks are not subscribed through its API (see its BEHAVIOR.md)")
    target = url or f"{config.public_url.rstrip('/')}/webhooks/{connection}"
    hook = subscribe_to(target)
    if as_json:
        print_json({"connection": connection, "url": target, "webhook_id": hook.get("id")})
    else:
        console.print(f"[green]subscribed[/] {connection}: webhook {hook.get('id')} → {target}")


@outbox_app.command("list")
def list_outbox(
    status: Annotated[str | None, typer.Option(help="pending, claimed, sent or dead")] = None,
    target: Annotated[str | None, typer.Option(help="only this connection")] = None,
    limit: Annotated[int, typer.Option(help="at most this many rows, newest first")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List outbox rows (newest first) with their tries and last error."""
    with _database().transaction() as session:
        rows = outbox.list_rows(session, status=status, target=target, limit=limit)
        counts = outbox.counts(session)
        data: list[dict[str, Any]] = [
            {
                "id": r.id,
                "target": r.target,
                "kind": r.kind,
                "lead_id": r.lead_id,
                "status": r.status,
                "attempts": r.attempts,
                "next_attempt_at": r.next_attempt_at,
                "last_error": r.last_error,
                "created_at": r.created_at,
                "sent_at": r.sent_at,
            }
            for r in rows
        ]
    if as_json:
        print_json({"counts": counts, "rows": data})
        return
    table = Table("id", "target", "kind", "lead", "status", "tries", "next try", "last error")
    for row in data:
        table.add_row(
            str(row["id"]),
            row["target"],
            row["kind"],
            row["lead_id"] or "",
            row["status"],
            str(row["attempts"]),
            str(row["next_attempt_at"])[:19],
            (row["last_error"] or "")[:60],
        )
    console.print(table)
    console.print(
        ", ".join(f"{name}: {count}" for name, count in sorted(counts.items())) or "the outbox is empty"
    )


@outbox_app.command("retry")
def retry_outbox(
    ids: Annotated[list[int] | None, typer.Argument(help="row ids (default: every dead row)")] = None,
    as_json: JsonOption = False,
) -> None:
    """Put dead-lettered rows back in the queue with a fresh try budget; the next sync sends them."""
    with _database().transaction() as session:
        count = outbox.retry_dead(session, now=utcnow(), ids=ids or None)
    if as_json:
        print_json({"requeued": count})
    else:
        console.print(f"{count} dead row(s) queued again; run `leadbridge sync` to send them")


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.add_typer(connections_app, name="connections")
    app.add_typer(outbox_app, name="outbox")
