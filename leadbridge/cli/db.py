"""``leadbridge db``: create and migrate the database."""

from __future__ import annotations

from typing import Annotated

import typer

from leadbridge.cli.context import console, print_json, settings
from leadbridge.core.store import migrate
from leadbridge.core.store.database import Database

db_app = typer.Typer(help="Create and migrate leadbridge's database.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Apply every migration up to REVISION (default: the latest)."""
    database = Database(settings().sqlalchemy_url)
    database.upgrade()
    console.print(
        f"[green]database {database.safe_url} is at revision {migrate.current_revision(database.url)}[/]"
    )


@db_app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Show the database URL (without password) and its schema revision."""
    database = Database(settings().sqlalchemy_url)
    current, head = migrate.current_revision(database.url), migrate.head_revision(database.url)
    if as_json:
        print_json(
            {"url": database.safe_url, "revision": current, "head": head, "up_to_date": current == head}
        )
        return
    console.print(f"{database.safe_url}: revision {current} (latest {head})")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
