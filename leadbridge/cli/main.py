"""The ``leadbridge`` command: one Typer app with a sub-app per command group."""

from __future__ import annotations

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


def _register() -> None:
    """Add every command group. Each module exposes ``register(app)``; import errors are loud."""
    from importlib import import_module

    for module_name in COMMAND_MODULES:
        import_module(f"leadbridge.cli.{module_name}").register(app)


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


def main() -> None:
    """Console-script entry point: run the app, turning leadbridge errors into clean messages."""
    _register()
    try:
        app()
    except LeadbridgeError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
