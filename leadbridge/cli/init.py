"""``leadbridge init [DIR]``: a working configuration, examples and a fresh database."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from leadbridge.cli.context import console, fail
from leadbridge.core.settings import CONFIG_FILE_NAME, load_settings
from leadbridge.core.store.database import Database

INIT_FILES = (CONFIG_FILE_NAME, "policy.yaml", "partners.csv", "leads.csv")


def init(
    directory: Annotated[Path, typer.Argument(help="where to create the configuration")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a commented leadbridge.yaml, an example policy, example partners and leads, and the database."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [name for name in INIT_FILES if (directory / name).exists()]
    if existing and not force:
        raise fail(f"{', '.join(existing)} already exist in {directory}; use --force to overwrite")
    source = resources.files("leadbridge") / "init_files"
    for name in INIT_FILES:
        with resources.as_file(source / name) as path:
            shutil.copyfile(path, directory / name)
        console.print(f"  wrote {directory / name}")
    settings = load_settings(directory / CONFIG_FILE_NAME)
    database = Database(settings.sqlalchemy_url)
    database.upgrade()
    console.print(f"  created database {database.safe_url}")
    console.print(
        f"\n[bold green]Ready.[/] Next:\n  cd {directory}\n  leadbridge partners import partners.csv\n"
        "  leadbridge leads import leads.csv\n  leadbridge leads list"
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
