"""Reading CSV files as a stream: rows one at a time, in memory bounded whatever the file's size.

Rules:
- the file is decoded line by line with an incremental decoder, so an undecodable byte is reported
  with its physical line number without ever holding the whole file (ASCII-compatible encodings:
  UTF-8 with or without BOM, cp1252, latin-1 …);
- the delimiter is sniffed from the first 4 KB (``,``, ``;`` or tab);
- the header is line 1; a row's number is the physical line it starts on, so a quoted cell spanning
  lines keeps the numbers of later rows right;
- ``bytes_read`` says how far into the file the reader is (progress and ETA without counting rows
  first);
- duplicate keys are found through a ``KeyLedger``: a throw-away SQLite file beside nothing else,
  so remembering a million keys costs disk, not memory.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import itertools
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

SNIFF_CHARS = 4096


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class CsvFileError(ValueError):
    """The file as a whole cannot be read (missing, wrong encoding, no header)."""


def _cells_to_row(keys: list[str], width: int, cells: list[str]) -> dict[str, str | None]:
    """A row by the (normalised) header: cells stripped, empty ones ``None``; a short row's missing
    cells are ``None``, a long row's extra cells are dropped (as ``csv.DictReader`` does)."""
    row: dict[str, str | None] = {key: value.strip() or None for key, value in zip(keys, cells, strict=False)}
    if len(cells) < width:
        for key in keys[len(cells) :]:
            row.setdefault(key, None)
    return row


class CsvStream:
    """One pass over a CSV file: iterate ``rows()`` for ``(line number, row)``; see module rules."""

    def __init__(self, path: Path, encoding: str = "utf-8-sig") -> None:
        self.path = path
        self.encoding = encoding
        self.bytes_read = 0
        try:
            self.size = path.stat().st_size
        except OSError as exc:
            raise CsvFileError(f"{path}: cannot read: {exc.strerror}") from None

    def _lines(self, handle: IO[bytes]) -> Iterator[str]:
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        for number, raw in enumerate(handle, 1):
            self.bytes_read += len(raw)
            try:
                yield decoder.decode(raw)
            except UnicodeDecodeError as exc:
                bad = raw[exc.start] if exc.start < len(raw) else raw[-1]
                name = self.encoding.replace("-sig", "").upper()
                raise CsvFileError(
                    f"{self.path}:{number}: not valid {name} (byte 0x{bad:02x}); "
                    "save the file as UTF-8 or pass --encoding (e.g. cp1252)"
                ) from None
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    def rows(self) -> Iterator[tuple[int, dict[str, str | None]]]:
        """Yield ``(line number, row)`` for every data row (the header is line 1)."""
        try:
            handle = self.path.open("rb")
        except OSError as exc:
            raise CsvFileError(f"{self.path}: cannot read: {exc.strerror}") from None
        with handle:
            lines = self._lines(handle)
            head: list[str] = []
            for line in lines:  # enough lines to sniff the dialect from
                head.append(line)
                if sum(map(len, head)) >= SNIFF_CHARS:
                    break
            try:
                dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                    "".join(head)[:SNIFF_CHARS], delimiters=",;\t"
                )
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(itertools.chain(head, lines), dialect=dialect)
            try:
                header = next(reader, [])
            except csv.Error as exc:
                raise CsvFileError(f"{self.path}:1: unreadable CSV header ({exc})") from None
            if not header:
                raise CsvFileError(f"{self.path}: empty file, expected a header line")
            # the header is normalised once; per row only the cells are (a million rows)
            keys = [key.strip().lower() for key in header]
            width = len(keys)
            start = reader.line_num + 1
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:  # e.g. a cell over csv.field_size_limit() (128 KB): name the line
                    raise CsvFileError(
                        f"{self.path}:{start}: unreadable CSV ({exc}); a cell may hold at most "
                        f"{csv.field_size_limit() // 1024} KB — check quotes and very long values"
                    ) from None
                if cells:  # a blank line is no row (as csv.DictReader)
                    yield start, _cells_to_row(keys, width, cells)
                start = reader.line_num + 1


class KeyLedger:
    """Which keys a pass has seen, and on which line first: ``first_line(key, line)``.

    Kept in a temporary SQLite file (deleted on ``close``) with a small page cache, so a file of
    millions of rows is checked for duplicates in a few MB of memory.
    """

    def __init__(self) -> None:
        handle, self._path = tempfile.mkstemp(prefix="leadbridge-keys-", suffix=".sqlite")
        os.close(handle)
        self._db = sqlite3.connect(self._path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-8000", "temp_store=FILE"):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, line INTEGER) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def first_line(self, key: str, line: int) -> int | None:
        """Record ``key`` at ``line``; return the earlier line when the key was seen before."""
        cursor = self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (key, line))
        if cursor.rowcount:
            return None
        found = self._db.execute("SELECT line FROM seen WHERE key = ?", (key,)).fetchone()
        return int(found[0])

    def close(self) -> None:
        self._db.close()
        with contextlib.suppress(OSError):
            os.unlink(self._path)

    def __enter__(self) -> KeyLedger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
