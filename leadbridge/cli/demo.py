"""``leadbridge demo``: the newcomer's first command — a whole run on the embedded default.

Until the connectors land this runs the CSV path: a fresh project directory, the example
partners and leads imported, and a short summary.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from leadbridge.cli.context import console, print_json
from leadbridge.connectors.csvfile import validate_leads, validate_partners
from leadbridge.core.importing import import_leads, import_partners
from leadbridge.core.settings import load_settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="where to create the demo project")] = Path("demo-dir"),
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as JSON on the last line")] = False,
) -> None:
    """Create a demo project, import the example partners and leads, and summarise."""
    from leadbridge.cli.init import init

    started = time.monotonic()
    if not (directory / "leadbridge.yaml").exists():
        init(directory, force=False)
    settings = load_settings(directory / "leadbridge.yaml")
    database = Database(settings.sqlalchemy_url)
    database.upgrade()
    partners = import_partners(database, validate_partners(directory / "partners.csv"))
    leads = import_leads(database, validate_leads(directory / "leads.csv"))
    with database.transaction() as session:
        states = Counter(session.execute(select(LeadRow.state)).scalars())
    summary = {"partners": partners.imported, "leads": leads.imported, "states": dict(states),
               "seconds": round(time.monotonic() - started, 2), "directory": str(directory.resolve())}
    if as_json:
        print_json(summary)
        return
    console.print(f"[bold green]demo ready[/] in {summary['seconds']} s — project at {summary['directory']}")
    console.print(f"partners: {partners.imported}; leads: {leads.imported}; states: {dict(states)}")
    console.print(f"Try: cd {directory} && leadbridge leads list && leadbridge leads show <id>")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
