"""``leadbridge report``: the partner scorecard, campaign ROI, region and product views; costs."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from leadbridge.cli.context import Table, console, print_json
from leadbridge.cli.partners import JsonOption, open_database
from leadbridge.core.reports.costs import import_costs
from leadbridge.core.reports.tables import REPORTS, Rows
from leadbridge.core.reports.window import ReportFilter, day_start

report_app = typer.Typer(
    help="Reports: partners, campaigns, regions, products, quality, weekly, monthly; campaign costs.",
    no_args_is_help=True,
)


class ReportName(StrEnum):
    partners = "partners"
    campaigns = "campaigns"
    regions = "regions"
    products = "products"
    quality = "quality"
    weekly = "weekly"
    monthly = "monthly"


Day = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="YYYY-MM-DD (UTC)")]


def _cell(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def run_report(
    name: ReportName,
    since: datetime | None,
    until: datetime | None,
    campaign: str | None,
    country: str | None,
    partner: str | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Print one report for ``[since, until)`` as a table, JSON or CSV."""
    flt = ReportFilter(day_start(since), day_start(until), campaign, country, partner)
    database = open_database()
    with database.transaction() as session:
        rows = REPORTS[name.value](session, flt)
    if as_json:
        print_json(rows)
    elif as_csv:
        write_csv(rows)
    else:
        _table(name.value, rows)


def write_csv(rows: Rows) -> None:
    """Rows as CSV on stdout (reports hold figures and names; names are neutralised on export)."""
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)


def _table(title: str, rows: Rows) -> None:
    if not rows:
        console.print(f"no {title} activity in this range")
        return
    table = Table(title=title)
    columns = list(rows[0])
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*(_cell(row[c]) for c in columns))
    console.print(table)


def _register_report(name: ReportName) -> None:
    def command(
        since: Day = None,
        until: Day = None,
        campaign: Annotated[str | None, typer.Option(help="only this campaign's leads")] = None,
        country: Annotated[str | None, typer.Option(help="only leads from this country (ISO code)")] = None,
        partner: Annotated[str | None, typer.Option(help="only this partner id")] = None,
        as_json: JsonOption = False,
        as_csv: Annotated[bool, typer.Option("--csv", help="print CSV")] = False,
    ) -> None:
        run_report(name, since, until, campaign, country, partner, as_json, as_csv)

    command.__doc__ = f"The {name.value} report for [--since, --until) (see docs/reports.md)."
    report_app.command(name.value)(command)


for _name in ReportName:
    _register_report(_name)


@report_app.command("import-costs")
def import_costs_command(
    file: Annotated[Path, typer.Argument(help="CSV: campaign,date,amount[,currency][,note]")],
    as_json: JsonOption = False,
) -> None:
    """Import campaign costs; a bad row stops the import with every error listed, nothing saved."""
    database = open_database()
    with database.transaction() as session:
        added, skipped = import_costs(session, file)
    if as_json:
        print_json({"added": added, "already_stored": skipped})
    else:
        console.print(f"{added} campaign costs added, {skipped} already stored")


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
