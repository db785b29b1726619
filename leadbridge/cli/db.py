"""``leadbridge db``: create and migrate the database."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from leadbridge.cli.context import console, print_json, runtime
from leadbridge.core.store import migrate
from leadbridge.core.store.maintenance import maintain

db_app = typer.Typer(help="Create and migrate leadbridge's database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply every migration up to REVISION (default: the latest)."""
    database = runtime().db
    database.upgrade()
    console.print(
        f"[green]database {database.safe_url} is at revision {migrate.current_revision(database.url)}[/]"
    )


@db_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Show the database URL (without password) and its schema revision."""
    database = runtime().db
    current, head = migrate.current_revision(database.url), migrate.head_revision(database.url)
    if as_json:
        print_json(
            {"url": database.safe_url, "revision": current, "head": head, "up_to_date": current == head}
        )
        return
    console.print(f"{database.safe_url}: revision {current} (latest {head})")


@db_app.command("vacuum")
def vacuum(
    analyze_only: Annotated[
        bool, typer.Option("--analyze-only", help="only refresh the planner's statistics (quick)")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="PostgreSQL: VACUUM FULL (locks each table)")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Reclaim space and refresh statistics (SQLite: checkpoint, VACUUM, ANALYZE; PostgreSQL:
    VACUUM ANALYZE). Run after large imports or erasures; see docs/operations.md."""
    database = runtime().db
    database.require_current()
    done = maintain(database.engine, analyze_only=analyze_only, full=full)
    if as_json:
        print_json(asdict(done))
        return
    sizes = ""
    if done.bytes_before is not None and done.bytes_after is not None:
        sizes = f", {done.bytes_before / 1e6:.1f} MB → {done.bytes_after / 1e6:.1f} MB"
    console.print(f"[green]{database.safe_url}: {'; '.join(done.steps)} in {done.seconds:.1f} s{sizes}[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
