"""Rendering helpers shared by command groups: import summaries and progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from leadbridge.cli.context import console, err_console, print_json
from leadbridge.sync.importing import ImportSummary


@contextmanager
def progress_bar(description: str, total: int, *, enabled: bool = True) -> Iterator[Callable[[int], None]]:
    """Yield an ``advance(n)`` callback drawing a bar on stderr (silent when disabled)."""
    if not enabled:
        yield lambda _n: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def report_import(summary: ImportSummary, *, as_json: bool, what: str) -> None:
    """Print an import's outcome; exit 1 when the file had errors and nothing was imported."""
    if as_json:
        print_json(summary.as_dict())
    else:
        for error in summary.errors:
            err_console.print(f"[red]{summary.file}:{error['line']}:[/] {error['message']}")
        if summary.aborted:
            err_console.print(
                f"[bold red]{len(summary.errors)} invalid row(s); nothing imported.[/] "
                "Fix them, or pass --skip-invalid to import the valid rows."
            )
        else:
            counts = ", ".join(f"{count} {name}" for name, count in summary.imported.items())
            console.print(
                f"[green]{what}: {counts}[/]"
                + (f" ({summary.skipped_invalid} invalid row(s) skipped)" if summary.skipped_invalid else "")
            )
    if summary.aborted:
        raise typer.Exit(1)
