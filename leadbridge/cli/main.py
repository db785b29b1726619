"""The ``leadbridge`` command: one Typer app with a sub-app per command group."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from leadbridge import __version__
from leadbridge.cli.context import LazyRuntime, err_console
from leadbridge.core.errors import LeadbridgeError

app = typer.Typer(
    name="leadbridge",
    help="Route qualified leads from a manufacturer's CRM to channel partners and keep every CRM in step.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="leadbridge.yaml to use (default: ./)")
    ] = None,
) -> None:
    """Global options."""
    ctx.obj = LazyRuntime(config)


@app.command()
def version() -> None:
    """Print leadbridge's version."""
    typer.echo(__version__)


def _register(argv: Sequence[str] | None = None, target: typer.Typer | None = None) -> None:
    """Add the command groups ``argv`` needs (all of them when it names no known command, e.g.
    ``--help``; all when ``argv`` is None). Each module exposes ``register(app)``; import errors
    are loud. Importing only what a command needs keeps the start of ``leads import`` or
    ``db upgrade`` from importing the web app, the demo and every connector command."""
    from importlib import import_module

    command = _command_of(argv) if argv is not None else None
    modules = COMMANDS.get(command, tuple(COMMAND_MODULES)) if command is not None else COMMAND_MODULES
    for module_name in modules:
        import_module(f"leadbridge.cli.{module_name}").register(target or app)


def _command_of(argv: Sequence[str]) -> str | None:
    """The top-level command in ``argv``, after the root's options (``--config PATH``)."""
    args = iter(argv)
    for arg in args:
        if arg in ("--config", "-c"):
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


# One line per command module; keep sorted.
COMMAND_MODULES: list[str] = [
    "db",
    "demo",
    "geo",
    "init",
    "jobs",
    "leads",
    "mappings",
    "partners",
    "policies",
    "privacy",
    "reports",
    "routing",
    "sandbox",
    "sync",
    "web",
]

# Each top-level command and the modules that add to it (``leads quarantine`` comes from
# ``mappings``); ``tests/test_cli_registration.py`` keeps this in step with the modules.
COMMANDS: dict[str, tuple[str, ...]] = {
    "api-keys": ("web",),
    "audit": ("privacy",),
    "beat": ("jobs",),
    "connections": ("sync",),
    "db": ("db",),
    "demo": ("demo",),
    "geo": ("geo",),
    "init": ("init",),
    "leads": ("leads", "mappings"),
    "mappings": ("mappings",),
    "outbox": ("sync",),
    "partners": ("partners",),
    "policy": ("policies",),
    "report": ("reports",),
    "route": ("routing",),
    "run": ("web",),
    "sandbox": ("sandbox",),
    "simulate": ("policies",),
    "status": ("jobs",),
    "sync": ("sync",),
    "tune": ("policies",),
    "users": ("web",),
    "worker": ("jobs",),
}


def main() -> None:
    """Console-script entry point: run the app, turning leadbridge errors into clean messages."""
    _register(sys.argv[1:])
    try:
        app()
    except LeadbridgeError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
