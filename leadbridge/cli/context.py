"""Shared CLI state: where the configuration is, JSON output, and printing helpers."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.settings import Settings

console = Console()
err_console = Console(stderr=True)


@dataclass
class CliState:
    config: Path | None = None

    def settings(self) -> Settings:
        return default_registry().load_settings(self.config)


STATE = CliState()


def settings() -> Settings:
    """The settings for this invocation (``--config`` or the current directory)."""
    return STATE.settings()


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
