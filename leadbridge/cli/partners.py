"""``leadbridge partners``: import and list channel partners."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from leadbridge.cli.context import Table, console, err_console, fail, print_json, settings
from leadbridge.cli.context import database as open_database
from leadbridge.cli.output import STREAM_BATCH, file_progress, report_import, stream_json
from leadbridge.connectors.csvstream import CsvFileError
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import PartnerRow
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.sync.connections import build_connectors
from leadbridge.sync.cycle import SyncEngine
from leadbridge.sync.importing import import_partners
from leadbridge.web.invites import Invitations, invite_contacts

partners_app = typer.Typer(help="Import and list channel partners.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


@partners_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="partners CSV (see docs for the columns)")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows of a file with errors")
    ] = False,
    encoding: Annotated[str, typer.Option(help="file encoding")] = "utf-8-sig",
    clear_empty: Annotated[
        bool, typer.Option("--clear-empty", help="an empty cell clears the stored value (else it is kept)")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate every row, then create partners or update them by external id: only the columns the
    file has change (re-running is safe; unchanged rows are counted as such)."""
    database = open_database()
    try:
        with file_progress("partners", file, enabled=not as_json) as progress:
            summary = import_partners(
                database,
                file,
                encoding=encoding,
                skip_invalid=skip_invalid,
                clear_empty=clear_empty,
                progress=progress,
            )
    except CsvFileError as error:
        raise fail(str(error)) from None
    invites = None if summary.aborted else _invite(database)
    if as_json and invites is not None:
        extra = {"invited": invites.invited, "not_invited": invites.skipped, "mail_error": invites.mail_error}
        print_json({**summary.as_dict(), **extra})
        return
    report_import(summary, as_json=as_json, what="partners")
    if invites is not None and (invites.invited or invites.skipped):
        console.print(f"inbox users invited by mail: {', '.join(invites.invited) or 'none'}")
        for skipped in invites.skipped:
            console.print(f"  not invited: {skipped}")
        if invites.mail_error:
            err_console.print(
                f"[yellow]invitation mail not sent ({invites.mail_error}); "
                "the users can sign in at /inbox/signin[/]"
            )


def _invite(database: Database) -> Invitations:
    """Each contact e-mail of a partner on the inbox becomes an inbox user, invited by mail."""
    config = settings()
    mailer = SmtpMailer(config.smtp_host, config.smtp_port, config.smtp_sender)
    return invite_contacts(database, config, mailer)


@partners_app.command("list")
def list_command(
    as_json: JsonOption = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="print JSON lines: one partner per line")] = False,
) -> None:
    """List every partner with its territory, product lines, tier and connection (``--json`` and
    ``--jsonl`` stream: each partner is written as it is read)."""
    if as_json or jsonl:
        query = select(PartnerRow.data).order_by(PartnerRow.name, PartnerRow.id)
        with open_database().transaction() as session:
            rows = session.execute(query.execution_options(yield_per=STREAM_BATCH)).scalars()
            stream_json((Partner.model_validate(data).model_dump(mode="json") for data in rows), lines=jsonl)
        return
    with open_database().transaction() as session:
        partners = PartnerRepository(session).all()
    table = Table("id", "external id", "name", "tier", "countries", "product lines", "connection", "active")
    for partner in partners:
        table.add_row(
            partner.id,
            partner.external_id or "",
            partner.name,
            partner.tier.value,
            ",".join(partner.territory.countries),
            ",".join(partner.product_lines),
            partner.connection,
            "yes" if partner.active else "no",
        )
    console.print(table)
    console.print(f"{len(partners)} partner(s)")


performance_app = typer.Typer(
    help="Partner performance written to the partners' accounts in the home CRM.", no_args_is_help=True
)
partners_app.add_typer(performance_app, name="performance")


@performance_app.command("push")
def performance_push(
    partner: Annotated[
        list[str] | None, typer.Option("--partner", help="only this partner (id or external id; repeatable)")
    ] = None,
    connection: Annotated[str | None, typer.Option("--connection", help="only this home connection")] = None,
    as_json: JsonOption = False,
) -> None:
    """Compute the partners' scorecard figures now, queue those that changed and write them to each
    home connection whose mapping has a ``partner_performance`` section (the schedule does the same
    every ``every_hours``). Exit 1 if a write failed."""
    config = settings()
    database = open_database()
    homes = [
        n for n, c in config.connections.items() if c.role == "manufacturer" and (connection in (None, n))
    ]
    connectors = {n: c for n, c in build_connectors(config).items() if n in homes}
    if not connectors:
        raise fail("no home CRM connection that can be synced (see `connections:` in leadbridge.yaml)")
    partner_ids = _partner_ids(database, partner) if partner else None
    engine = SyncEngine(database, config, connectors, worker="cli-performance")
    if as_json:
        report = engine.push_performance(partner_ids=partner_ids)
    else:
        with count_progress("partners") as advance:
            report = engine.push_performance(partner_ids=partner_ids, progress=advance)
    summary: dict[str, Any] = {
        "connections": [
            {
                "connection": s.target,
                "partners": s.partners,
                "changed": len(s.queued),
                "unchanged": s.unchanged,
            }
            for s in report.performance
        ],
        "written": sum(f.written for f in report.written_back),
        "failed": sum(f.failed for f in report.written_back),
        "dead": sum(f.dead for f in report.written_back),
        "errors": [*report.errors, *(e for f in report.written_back for e in f.errors)],
        "api_calls": report.api_calls,
    }
    if as_json:
        print_json(summary)
    else:
        if not report.performance:
            console.print(
                "no home connection has a partner_performance section in its mapping (docs/mappings.md)"
            )
        for line in summary["connections"]:
            console.print(
                f"[bold]{line['connection']}[/]: {line['partners']} partner(s) with an account, "
                f"{line['changed']} changed, {line['unchanged']} unchanged"
            )
        console.print(
            f"written: {summary['written']}, failed: {summary['failed']} ({summary['dead']} dead-lettered)"
        )
        for error in summary["errors"]:
            err_console.print(f"[yellow]attention:[/] {error}")
    if summary["failed"] or report.errors:
        raise typer.Exit(1)


@contextmanager
def count_progress(what: str) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callback: a live count of ``what`` done, with the rate (stderr)."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:>7,.0f} · {task.fields[rate]:>6,.0f}/s"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"computing {what}", total=None, rate=0.0)

        def advance(n: int) -> None:
            progress.advance(task, n)
            elapsed = progress.tasks[task].elapsed or 0.0
            progress.update(task, rate=progress.tasks[task].completed / elapsed if elapsed else 0.0)

        yield advance


def _partner_ids(database: Database, wanted: list[str]) -> list[str]:
    """Partner ids for ids or external ids; an unknown one is an error naming it."""
    found: list[str] = []
    with database.transaction() as session:
        for key in wanted:
            row = session.execute(
                select(PartnerRow.id).where((PartnerRow.id == key) | (PartnerRow.external_id == key))
            ).scalar()
            if row is None:
                raise fail(f"no partner {key!r} (give its id or external id; `leadbridge partners list`)")
            found.append(row)
    return found


def register(app: typer.Typer) -> None:
    app.add_typer(partners_app, name="partners")
