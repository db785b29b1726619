"""Checking a file's rows in a child process while this one writes them: two cores for one import.

Rules:
- the child reads, validates and builds the rows (``csvfile.check_rows``, duplicates found by its
  own key ledger) and sends them in file order, ``batch`` rows per message, through a pipe. A
  message is handed over only when this process takes it, so the child works at most one batch
  ahead: memory stays bounded by two batches whatever the file's size;
- this process sees exactly what the serial pass (``importing._checked``) yields — the same items
  in the same order, the same errors with their line numbers — and progress every 500 rows;
- a file error in the child (encoding, unreadable CSV) is raised here as the same ``CsvFileError``;
  any other failure of the child is raised as ``ImportWorkerError`` with the child's traceback;
- stopping early here (an error while writing, Ctrl-C) closes the pipe: the child ends at its next
  send and removes its ledger; it is never left running. The child ignores Ctrl-C itself (the
  terminal sends it to both): this process decides how the import stops;
- the child is a fresh ``python -m leadbridge.sync.import_pipeline``, not a fork: the importing
  process holds database connections and threads (the progress bar) that a fork would copy, and
  unlike multiprocessing's *spawn* it never re-runs the caller's main script (a script without a
  ``__main__`` guard would import itself again). Its arguments arrive pickled on its stdin, its
  results go back through a pipe of their own; the builder and key functions must be picklable
  (module-level functions, or instances of module-level classes).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import leadbridge
from leadbridge.connectors.csvfile import check_rows
from leadbridge.connectors.csvstream import CsvFileError, CsvStream, KeyLedger, RowError

T = TypeVar("T")
# progress(phase, rows so far, bytes of the file read so far), as ``importing.Progress``
Progress = Callable[[str, int, int], None]
PROGRESS_EVERY = 500
JOIN_TIMEOUT_S = 10


class ImportWorkerError(RuntimeError):
    """The child process checking the rows failed for a reason other than the file's content."""


def checked_in_child(
    path: Path,
    encoding: str,
    build: Callable[[dict[str, str | None]], T],
    key: Callable[[T], str],
    *,
    check_duplicates: bool,
    batch: int,
    phase: str,
    progress: Progress | None,
) -> Iterator[tuple[int, T] | RowError]:
    """Yield ``(line, item)`` or ``RowError`` for every row of ``path``, checked in a child (module rules)."""
    receiver, child = _start(path, encoding, build, key, check_duplicates, batch)
    rows = bytes_read = 0
    try:
        while True:
            try:
                kind, payload, bytes_read = receiver.recv()
            except EOFError:
                code = child.wait(JOIN_TIMEOUT_S)
                raise ImportWorkerError(
                    f"the process checking the rows of {path} ended unexpectedly (exit code {code})"
                ) from None
            if kind == "rows":
                for item in payload:
                    rows += 1
                    if progress is not None and rows % PROGRESS_EVERY == 0:
                        progress(phase, rows, bytes_read)
                    yield item
            elif kind == "done":
                break
            elif kind == "file":
                raise CsvFileError(payload)
            else:
                raise ImportWorkerError(
                    f"checking the rows of {path} failed in the child process:\n{payload}"
                )
        if progress is not None:
            progress(phase, -1, bytes_read)
    finally:
        receiver.close()  # a child still sending gets a broken pipe and ends
        try:
            child.wait(JOIN_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # stuck somewhere other than a send: do not leave it behind
            child.kill()
            child.wait()


def _start(
    path: Path,
    encoding: str,
    build: Callable[[dict[str, str | None]], Any],
    key: Callable[[Any], str],
    check_duplicates: bool,
    batch: int,
) -> tuple[Connection, subprocess.Popen[bytes]]:
    """Start the child (module rules): the connection its results arrive on, and the process."""
    read_end, write_end = os.pipe()
    source = str(Path(leadbridge.__file__).resolve().parent.parent)  # leadbridge importable as here
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [source, os.environ.get("PYTHONPATH")]))}
    try:
        child = subprocess.Popen(
            [sys.executable, "-m", "leadbridge.sync.import_pipeline", str(write_end)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            pass_fds=(write_end,),
            env=env,
        )
    finally:
        os.close(write_end)  # only the child writes; its end closing is how an early death shows here
    receiver = Connection(read_end, writable=False)
    assert child.stdin is not None
    with child.stdin:
        child.stdin.write(pickle.dumps((path, encoding, build, key, check_duplicates, batch)))
    return receiver, child


def _produce(
    path: Path,
    encoding: str,
    build: Callable[[dict[str, str | None]], Any],
    key: Callable[[Any], str],
    check_duplicates: bool,
    batch: int,
    sender: Connection,
) -> None:
    """The child: check every row and send the results in batches (module rules)."""
    try:
        with contextlib.ExitStack() as stack:
            ledger = stack.enter_context(KeyLedger()) if check_duplicates else None
            stream = CsvStream(path, encoding)
            items: list[Any] = []
            for item in check_rows(stream.rows(), build, key, ledger):
                items.append(item)
                if len(items) >= batch:
                    sender.send(("rows", items, stream.bytes_read))
                    items = []
            sender.send(("rows", items, stream.bytes_read))
            sender.send(("done", None, stream.bytes_read))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the importing process stopped reading: nothing more to do
    except CsvFileError as error:
        _send_quietly(sender, ("file", str(error), 0))
    except BaseException:  # every failure is reported to the parent, which raises it
        _send_quietly(sender, ("failed", traceback.format_exc(), 0))
    finally:
        sender.close()


def _send_quietly(sender: Connection, message: tuple[str, str, int]) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sender.send(message)


def _child_main() -> None:
    """``python -m leadbridge.sync.import_pipeline FD``: the arguments from stdin, results to FD."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sender = Connection(int(sys.argv[1]), readable=False)
    path, encoding, build, key, check_duplicates, batch = pickle.loads(sys.stdin.buffer.read())
    _produce(path, encoding, build, key, check_duplicates, batch, sender)


if __name__ == "__main__":
    _child_main()
