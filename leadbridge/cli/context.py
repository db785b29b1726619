"""Shared CLI state: the invocation's runtime (built lazily), JSON output, and printing helpers.

Rules:
- the root callback puts a ``LazyRuntime`` into the click context (``ctx.obj``), nothing process-wide;
- nothing is loaded until a command asks: Typer runs the root callback even for ``--help``, and
  ``leadbridge init`` runs before any configuration exists;
- a command that writes uses ``runtime().db``, whose sessions carry the write-back projector and
  the kicks, so a CLI action queues the same outbox rows as the inbox or the API.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.runtime import Runtime, build_runtime

console = Console()
err_console = Console(stderr=True)


class LazyRuntime:
    """The invocation's runtime, built from ``--config`` (or ./leadbridge.yaml) on first use."""

    def __init__(self, config: Path | None) -> None:
        self.config = config
        self._settings: Settings | None = None
        self._runtime: Runtime | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = default_registry().load_settings(self.config)
        return self._settings

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = build_runtime(self.settings())
        return self._runtime


def _lazy() -> LazyRuntime:
    # Typer (0.16+) vendors click: its own ``get_current_context`` knows the running command.
    ctx = typer.main.get_current_context(silent=True)
    lazy = ctx.find_object(LazyRuntime) if ctx is not None else None
    # A command function called directly (no `leadbridge` root): the environment / ./leadbridge.yaml.
    return lazy if lazy is not None else LazyRuntime(None)


def settings() -> Settings:
    """The settings for this invocation (``--config`` or the current directory)."""
    return _lazy().settings()


def runtime() -> Runtime:
    """The runtime for this invocation (built on first use)."""
    return _lazy().runtime()


def database() -> Database:
    """The runtime's database, checked to be at the latest migration (a clear error otherwise)."""
    db = runtime().db
    db.require_current()
    return db


# C0/C1 control characters except tab and newline: an ESC from CRM data must never reach a terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: object) -> Text:
    """``value`` as literal text for the terminal: Rich markup in it is shown, not interpreted, and
    control characters (escape sequences) are shown as ``\\xNN``, never sent."""
    text = value if isinstance(value, str) else str(value)
    return Text(_CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def styled(markup: str) -> Text:
    """Our own markup (a colour around a fixed word), for a table cell that should be styled."""
    return Text.from_markup(markup)


class Table(RichTable):
    """A Rich table whose string cells are data, never markup (``plain``): a company named
    ``[/bold]`` or ``[link=…]`` prints as written. Cells we style ourselves are passed as ``Text``."""

    def add_row(self, *renderables: RenderableType | None, **kwargs: Any) -> None:
        super().add_row(*(plain(cell) if isinstance(cell, str) else cell for cell in renderables), **kwargs)


def serving_settings(command: str) -> Settings:
    """Settings for a long-running command (``run``, ``worker``, ``beat``): an unusable secret key
    (missing, the old public default, shorter than 32 characters) stops it before it serves anything."""
    current = settings()
    problem = current.secret_key_problem()
    if problem is not None:
        raise fail(f"`leadbridge {command}` refuses to start: {problem}")
    return current


def print_json(data: Any) -> None:
    """Print one JSON document on stdout (no Rich markup, so scripts can parse it)."""
    sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error for a person and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code)


def handle_errors(error: LeadbridgeError) -> None:
    raise fail(str(error))
