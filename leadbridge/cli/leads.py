"""``leadbridge leads``: import, list and inspect leads with their event timeline."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from leadbridge.cli import privacy
from leadbridge.cli.context import Table, console, fail, print_json
from leadbridge.cli.output import STREAM_BATCH, file_progress, report_import, stream_json
from leadbridge.cli.partners import JsonOption, open_database
from leadbridge.connectors.csvstream import CsvFileError
from leadbridge.core.errors import NotFound
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.offers import OfferService
from leadbridge.core.reports.window import day_start
from leadbridge.ops.lead_export import LeadSelection, export_leads, format_of, stream_leads
from leadbridge.sync.importing import import_leads

leads_app = typer.Typer(help="Import, list, inspect and erase leads.", no_args_is_help=True)
privacy.add_commands(leads_app)


@leads_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="leads CSV (see docs for the columns)")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows of a file with errors")
    ] = False,
    connection: Annotated[str, typer.Option(help="source connection name recorded on each lead")] = "csv",
    encoding: Annotated[str, typer.Option(help="file encoding")] = "utf-8-sig",
    clear_empty: Annotated[
        bool,
        typer.Option("--clear-empty", help="an empty cell clears the stored value (default: keeps it)"),
    ] = False,
    parallel: Annotated[
        bool,
        typer.Option(
            "--parallel",
            help="check the rows in a second process while this one writes (needs 2 free cores; "
            "about 10 % faster, about 100 MB more memory)",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Validate every row, then take the leads in, streaming in chunks (re-running continues an
    interrupted import and creates nothing twice). Rows with ``outcome`` won/lost are history.
    A known lead is updated partially: a column the file lacks, or an empty cell, keeps its value."""
    database = open_database()
    try:
        with file_progress("leads", file, enabled=not as_json) as progress:
            summary = import_leads(
                database,
                file,
                connection=connection,
                encoding=encoding,
                skip_invalid=skip_invalid,
                clear_empty=clear_empty,
                progress=progress,
                parallel=parallel,
            )
    except CsvFileError as error:
        raise fail(str(error)) from None
    report_import(summary, as_json=as_json, what="leads")


@leads_app.command("list")
def list_command(
    state: Annotated[
        list[str] | None, typer.Option("--state", help="only leads in this state (repeatable)")
    ] = None,
    partner: Annotated[str | None, typer.Option(help="only leads held by this partner id")] = None,
    search: Annotated[str | None, typer.Option(help="e-mail or company contains")] = None,
    limit: Annotated[int, typer.Option(help="at most this many (0: all)")] = 200,
    as_json: JsonOption = False,
    jsonl: Annotated[bool, typer.Option("--jsonl", help="print JSON lines: one lead per line")] = False,
) -> None:
    """List leads, newest first, with state and holding partner. ``--json`` and ``--jsonl`` write
    each lead as it is read (constant memory, for exports of any size)."""
    selection = LeadSelection(states=tuple(state or ()), partner_id=partner, search=search, limit=limit)
    with open_database().transaction() as session:
        # yield_per streams (a server-side cursor on PostgreSQL): rows are written as they arrive
        if as_json or jsonl:
            stream_json(stream_leads(session, selection), lines=jsonl)
            return
        rows = session.execute(selection.query().execution_options(yield_per=STREAM_BATCH))
        table = Table("id", "state", "company", "e-mail", "where", "partner", "campaign")
        count = 0
        for r in rows:
            count += 1
            table.add_row(
                r.id,
                r.state,
                r.company or "",
                r.email or "",
                f"{r.country or ''} {r.postal_code or ''}",
                r.partner_id or "",
                r.campaign or "",
            )
    console.print(table)
    console.print(f"{count} lead(s)")


@leads_app.command("export")
def export_command(
    file: Annotated[Path, typer.Argument(help="FILE.csv or FILE.xlsx")],
    state: Annotated[
        list[str] | None, typer.Option("--state", help="only leads in this state (repeatable)")
    ] = None,
    partner: Annotated[str | None, typer.Option(help="only leads held by this partner id")] = None,
    campaign: Annotated[str | None, typer.Option(help="only leads of this campaign")] = None,
    country: Annotated[str | None, typer.Option(help="only leads from this country (ISO code)")] = None,
    search: Annotated[str | None, typer.Option(help="e-mail or company contains")] = None,
    since: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="created on or after")] = None,
    until: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="created before")] = None,
    as_json: JsonOption = False,
) -> None:
    """Export leads to CSV or XLSX, newest first, each written as it is read; cells a spreadsheet
    would run as formulas (``=``, ``+``, ``-``, ``@``) are written as text."""
    selection = LeadSelection(
        states=tuple(state or ()),
        partner_id=partner,
        campaign=campaign,
        country=country,
        search=search,
        since=day_start(since),
        until=day_start(until),
    )
    format_of(file)  # a wrong suffix fails before the database is opened
    with open_database().transaction() as session:
        count = export_leads(session, selection, file)
    if as_json:
        print_json({"exported": count, "file": str(file)})
    else:
        console.print(f"{count} lead(s) exported to {file}")


@leads_app.command("show")
def show_command(
    lead_id: Annotated[str, typer.Argument(help="leadbridge lead id (L-…)")], as_json: JsonOption = False
) -> None:
    """Show one lead, its offers and its event timeline."""
    with open_database().transaction() as session:
        service = LeadService(session)
        try:
            row = service.get_row(lead_id)
        except NotFound as error:
            raise fail(str(error)) from None
        lead, events = lead_from_row(row), service.events(lead_id)
        offers = OfferService(session).for_lead(lead_id)
    if as_json:
        print_json(
            {
                "lead": lead.model_dump(mode="json"),
                "state": row.state,
                "partner_id": row.partner_id,
                "offers": [o.model_dump(mode="json", exclude={"decision"}) for o in offers],
                "events": [e.model_dump(mode="json") for e in events],
            }
        )
        return
    console.print(f"[bold]{lead.id}[/]  {lead.full_name} · {lead.company or '-'} · {lead.email or '-'}")
    console.print(
        f"state [bold]{row.state}[/], partner {row.partner_id or '-'}, source "
        f"{lead.source_connection}/{lead.external_id}, stage {lead.stage.value}, score {lead.score}"
    )
    if offers:
        offer_table = Table(
            "offer", "partner", "round", "mode", "status", "offered", "deadline", title="offers"
        )
        for o in offers:
            offer_table.add_row(
                o.id,
                o.partner_id,
                str(o.round),
                o.mode,
                o.status.value,
                o.offered_at.strftime("%Y-%m-%d %H:%M"),
                o.deadline.strftime("%Y-%m-%d %H:%M") if o.deadline else "",
            )
        console.print(offer_table)
    timeline = Table("#", "time (UTC)", "event", "state", "actor", "source", "details", title="timeline")
    for number, event in enumerate(events, 1):
        details = ", ".join(f"{k}={v}" for k, v in event.payload.items() if v not in (None, "", [], {}))
        timeline.add_row(
            str(number),
            event.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            event.kind,
            f"{event.from_state or '∅'} → {event.to_state}",
            event.actor,
            event.source_system,
            details[:80],
        )
    console.print(timeline)


def register(app: typer.Typer) -> None:
    app.add_typer(leads_app, name="leads")
