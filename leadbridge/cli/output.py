"""Rendering helpers shared by command groups: import summaries, progress bars, streamed JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from leadbridge.cli.context import console, err_console, print_json
from leadbridge.sync.importing import ImportSummary
from leadbridge.sync.importing import Progress as ImportProgress


@contextmanager
def file_progress(what: str, path: Path, *, enabled: bool = True) -> Iterator[ImportProgress]:
    """Yield a ``progress(phase, rows, bytes read)`` callback for a streamed import: a bar over the
    file's bytes (so the ETA needs no row count up front) with rows done and rows per second."""
    if not enabled:
        yield lambda _phase, _rows, _done: None
        return
    try:
        total = max(1, path.stat().st_size)
    except OSError:
        total = 1  # the import itself reports the missing file
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:>9,} rows · {task.fields[rate]:>7,.0f} rows/s"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}
        seen: dict[str, int] = {}

        def update(phase: str, rows: int, done: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"{phase} {what}", total=total, rows=0, rate=0.0)
            task = tasks[phase]
            rows = seen.get(phase, 0) if rows < 0 else rows  # -1: the pass ended
            seen[phase] = rows
            elapsed = progress.tasks[task].elapsed or 0.0
            progress.update(task, completed=done, rows=rows, rate=rows / elapsed if elapsed else 0.0)

        yield update


STREAM_BATCH = 1000  # rows fetched per round trip when streaming a listing


def stream_json(items: Iterable[Any], *, lines: bool = False) -> int:
    """Write ``items`` to stdout as they come: a JSON array, or JSON lines; returns how many.

    Nothing is collected first, so an export of a million rows needs the memory of one.
    """
    out = sys.stdout
    count = 0
    if not lines:
        out.write("[")
    for item in items:
        text = json.dumps(item, default=str, ensure_ascii=False)
        if lines:
            out.write(text + "\n")
        else:
            out.write(("," if count else "") + "\n" + text)
        count += 1
    if not lines:
        out.write("\n]\n" if count else "]\n")
    out.flush()
    return count


def report_import(summary: ImportSummary, *, as_json: bool, what: str) -> None:
    """Print an import's outcome; exit 1 when the file had errors and nothing was imported."""
    if as_json:
        print_json(summary.as_dict())
    else:
        for error in summary.errors:
            err_console.print(f"[red]{summary.file}:{error['line']}:[/] {error['message']}")
        if summary.invalid > len(summary.errors):
            err_console.print(f"… and {summary.invalid - len(summary.errors)} more invalid row(s)")
        if summary.aborted:
            err_console.print(
                f"[bold red]{summary.invalid} invalid row(s); nothing imported.[/] "
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
