"""Shared CLI state: where the configuration is, JSON output, and printing helpers."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

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
