"""``leadbridge init [DIR]``: a working configuration, examples and a fresh database."""

from __future__ import annotations

import os
import re
import secrets
import shutil
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer

from leadbridge.cli.context import console, fail
from leadbridge.connectors.registry import default_registry
from leadbridge.core.settings import CONFIG_FILE_NAME
from leadbridge.core.store.database import Database

INIT_FILES = (CONFIG_FILE_NAME, "policy.yaml", "partners.csv", "leads.csv")
SECRETS_FILE = "secrets.yaml"
SECRETS_HEADER = (
    "# leadbridge secrets: keep out of version control, readable by leadbridge's user only.\n"
    "# secret_key signs CSRF tokens and encrypts sign-in and offer links; changing it signs\n"
    "# everyone out and voids links already mailed (docs/security.md).\n"
    "# Connection secrets go here too: {connection-name: {password: ..., security_token: ...}}\n"
)
_KEY_LINE = re.compile(r"^secret_key\s*:.*\n?", re.MULTILINE)


def write_secret_key(path: Path) -> None:
    """Put a fresh random ``secret_key`` (48 random bytes) into the secrets file at ``path``.

    Other entries of an existing file (connection secrets) are kept; only the key line is replaced.
    The file is created readable by its owner only.
    """
    key = secrets.token_urlsafe(48)
    old = path.read_text(encoding="utf-8") if path.exists() else SECRETS_HEADER
    text = _KEY_LINE.sub("", old)
    text = (text if text.endswith("\n") or not text else text + "\n") + f"secret_key: {key}\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
    path.chmod(0o600)


def init(
    directory: Annotated[Path, typer.Argument(help="where to create the configuration")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="overwrite existing files")] = False,
) -> None:
    """Write a commented leadbridge.yaml, a secrets file with a fresh secret key, an example policy,
    example partners and leads, and the database."""
    directory.mkdir(parents=True, exist_ok=True)
    existing = [name for name in INIT_FILES if (directory / name).exists()]
    if existing and not force:
        raise fail(f"{', '.join(existing)} already exist in {directory}; use --force to overwrite")
    source = resources.files("leadbridge") / "init_files"
    for name in INIT_FILES:
        with resources.as_file(source / name) as path:
            shutil.copyfile(path, directory / name)
        console.print(f"  wrote {directory / name}")
    write_secret_key(directory / SECRETS_FILE)
    console.print(f"  wrote {directory / SECRETS_FILE} (a fresh secret key; keep it private)")
    settings = default_registry().load_settings(directory / CONFIG_FILE_NAME)
    database = Database(settings.sqlalchemy_url)
    database.upgrade()
    console.print(f"  created database {database.safe_url}")
    console.print(
        f"\n[bold green]Ready.[/] Next:\n  cd {directory}\n  leadbridge partners import partners.csv\n"
        "  leadbridge leads import leads.csv\n  leadbridge leads list"
    )


def register(app: typer.Typer) -> None:
    app.command("init")(init)
