"""Import leads and partners from CSV files as a stream: bounded memory whatever the file's size.

Rules:
- *all or nothing by default*: without ``skip_invalid`` a first pass reads and validates the whole
  file (no writes; duplicates found through an on-disk key ledger) and nothing is written when any
  row is bad; only a clean file gets its second, writing pass. With ``skip_invalid`` one pass
  validates and writes, and bad rows are reported and skipped;
- rows are written in chunks of ``CHUNK``, one transaction each, leads through bulk intake
  (``sync/bulk_intake.py``: one event batch per chunk), partners upserted by external id; the
  tables' statistics are refreshed as they grow (PostgreSQL), so lookups stay on their indexes;
- a known lead is updated partially (``sync/lead_updates.py``): what the row does not say is kept;
- resumable: an interrupted import keeps its committed chunks; running the same file again finds
  them ``unchanged`` (intake's dedup by connection, external id and content) and continues;
- every bad row is counted with its line number; the first ``MAX_ERRORS`` are kept with their
  messages (a file of a million bad rows must not fill memory with its errors);
- a closed lead (``outcome`` won/lost with ``partner`` and ``closed_at``) is imported as history
  (``core/history.py``); its partner (id or external id) must exist, else the row is bad;
- a large file (``PARALLEL_MIN_BYTES``) on a machine with two cores or more is read and validated
  in a child process while this one writes (``import_pipeline.py``): the same rows, errors and
  counts as the serial pass, in chunks of the same size; ``parallel`` forces either way.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.csvfile import (
    LeadRecord,
    check_rows,
    lead_key,
    lead_record_from_csv,
)
from leadbridge.connectors.csvstream import CsvFileError, CsvStream, KeyLedger, RowError
from leadbridge.core.intake import stamp_of_dump
from leadbridge.core.store.database import Database
from leadbridge.core.store.maintenance import refresh_statistics
from leadbridge.core.store.tables import PartnerRow
from leadbridge.sync.bulk_intake import Incoming, Known, take_in_chunk
from leadbridge.sync.import_pipeline import checked_in_child
from leadbridge.sync.lead_updates import LeadUpdate, merge_known, update_from_row
from leadbridge.sync.partner_updates import PartnerUpdate, apply_updates, update_from_csv, update_key

# progress(phase, rows so far, bytes of the file read so far); phase is "validating" or "importing"
Progress = Callable[[str, int, int], None]
CHUNK = 2000
# A file at least this large is checked in a child process while this one writes (about 7,000 lead
# rows): below it, starting the child (a second Python importing the models) costs more than it saves.
PARALLEL_MIN_BYTES = 2_000_000
MAX_ERRORS = 1000
# Statistics refreshed after these chunks (PostgreSQL), so the per-chunk lookups keep using their
# indexes as the tables grow from empty (``maintenance.refresh_statistics``).
ANALYZE_AFTER_CHUNKS = frozenset({1, 4, 16, 64, 256, 1024})
ANALYZED_TABLES = ("leads", "intake_log", "partners")
T = TypeVar("T")


@dataclass
class ImportSummary:
    file: str
    rows: int = 0
    imported: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    invalid: int = 0
    skipped_invalid: int = 0
    aborted: bool = False

    def error(self, error: RowError) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append({"line": error.line, "message": error.message})

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            **self.imported,
            "invalid": self.invalid,
            "skipped_invalid": self.skipped_invalid,
            "aborted": self.aborted,
            "errors": self.errors,
        }


def _checked(
    path: Path,
    encoding: str,
    build: Callable[[dict[str, str | None]], T],
    key: Callable[[T], str],
    ledger: KeyLedger | None,
    phase: str,
    progress: Progress | None,
) -> Iterator[tuple[int, T] | RowError]:
    stream = CsvStream(path, encoding)
    for rows, item in enumerate(check_rows(stream.rows(), build, key, ledger), 1):
        if progress is not None and rows % 500 == 0:
            progress(phase, rows, stream.bytes_read)
        yield item
    if progress is not None:
        progress(phase, -1, stream.bytes_read)


def _import(
    database: Database,
    path: Path,
    encoding: str,
    build: Callable[[dict[str, str | None]], T],
    key: Callable[[T], str],
    write: Callable[[Session, list[T]], Counter[str]],
    outcomes: tuple[str, ...],
    *,
    skip_invalid: bool,
    progress: Progress | None,
    parallel: bool,
) -> ImportSummary:
    """Validate (first pass unless ``skip_invalid``) and write in chunks, per the module rules."""
    summary = ImportSummary(file=str(path))
    if not skip_invalid:
        with KeyLedger() as ledger:
            for item in _checked(path, encoding, build, key, ledger, "validating", progress):
                summary.rows += 1
                if isinstance(item, RowError):
                    summary.error(item)
        if summary.invalid:
            summary.aborted = True
            return summary
        summary.rows = 0
    counts: Counter[str] = Counter(dict.fromkeys(outcomes, 0))
    chunk: list[T] = []
    written = 0

    def flush() -> None:
        nonlocal written
        with database.transaction() as session:
            counts.update(write(session, chunk))
        chunk.clear()
        written += 1
        if written in ANALYZE_AFTER_CHUNKS:  # the tables grow by orders of magnitude meanwhile
            refresh_statistics(database.engine, ANALYZED_TABLES)

    with KeyLedger() as ledger:
        # a clean file needs no second duplicate check; with skip_invalid this is the only pass
        seen = ledger if skip_invalid else None
        items = (
            checked_in_child(
                path,
                encoding,
                build,
                key,
                check_duplicates=skip_invalid,
                batch=CHUNK,
                phase="importing",
                progress=progress,
            )
            if parallel
            else _checked(path, encoding, build, key, seen, "importing", progress)
        )
        for item in items:
            summary.rows += 1
            if isinstance(item, RowError):
                if not skip_invalid:
                    raise CsvFileError(
                        f"{path}:{item.line}: the file changed during the import ({item.message}); "
                        "what was imported is kept, run the import again to continue"
                    )
                summary.error(item)
                continue
            chunk.append(item[1])
            if len(chunk) >= CHUNK:
                flush()
        if chunk:
            flush()
    summary.skipped_invalid = summary.invalid
    summary.imported = dict(counts)
    return summary


def use_child(path: Path, parallel: bool | None) -> bool:
    """Whether to check the rows in a child process: as asked, else for a large file when this
    process may use two cores or more (module rules)."""
    if parallel is not None:
        return parallel
    try:
        large = path.stat().st_size >= PARALLEL_MIN_BYTES
    except OSError:
        return False  # the serial reader reports the missing file
    return large and len(os.sched_getaffinity(0)) >= 2


class PartnerIds:
    """Partner ids by id and by external id (lower case): a history row's partner reference resolved."""

    def __init__(self, ids: dict[str, str]) -> None:
        self._ids = ids

    def resolve(self, ref: str) -> str:
        partner_id = self._ids.get(ref) or self._ids.get(ref.lower())
        if partner_id is None:
            raise ValueError(f"unknown partner {ref!r} (import partners first)")
        return partner_id


class PartnerRefs:
    """Partner ids by id and external id, loaded once on first use (history rows name partners)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._ids: PartnerIds | None = None

    def loaded(self) -> PartnerIds:
        """The ids, loaded now: what a child process checking rows resolves against."""
        if self._ids is None:
            with self.database.transaction() as session:
                found = session.execute(select(PartnerRow.id, PartnerRow.external_id)).all()
            self._ids = PartnerIds(
                {pid: pid for pid, _ in found} | {ext.lower(): pid for pid, ext in found if ext}
            )
        return self._ids

    def resolve(self, ref: str) -> str:
        return self.loaded().resolve(ref)


def incoming(record: LeadRecord, refs: PartnerRefs | PartnerIds) -> Incoming:
    """A validated row as bulk intake's input, its history's partner resolved."""
    if record.history is None:
        return Incoming(record.lead)
    return Incoming(record.lead, record.history, refs.resolve(record.history.partner))


@dataclass(frozen=True)
class LeadRows:
    """Builds a lead row into its ``LeadUpdate``, with the lead's JSON dump and content stamp made
    here (in the child process when there is one) rather than by intake. Picklable."""

    connection: str
    clear_empty: bool
    partners: PartnerRefs | PartnerIds

    def __call__(self, row: dict[str, str | None]) -> LeadUpdate:
        found = incoming(lead_record_from_csv(row, self.connection), self.partners)
        data = found.lead.model_dump(mode="json")
        found = Incoming(found.lead, found.history, found.partner_id, data, stamp_of_dump(data))
        return update_from_row(found, row, clear_empty=self.clear_empty)


def lead_update_key(item: LeadUpdate) -> str:
    return lead_key(item.incoming.lead)


@dataclass(frozen=True)
class PartnerRows:
    """Builds a partner row into its ``PartnerUpdate``. Picklable."""

    clear_empty: bool

    def __call__(self, row: dict[str, str | None]) -> PartnerUpdate:
        return update_from_csv(row, clear_empty=self.clear_empty)


def import_leads(
    database: Database,
    path: Path,
    *,
    connection: str = "csv",
    encoding: str = "utf-8-sig",
    skip_invalid: bool = False,
    clear_empty: bool = False,
    progress: Progress | None = None,
    actor: str = "csv-import",
    parallel: bool | None = None,
) -> ImportSummary:
    """Take the file's leads in (module rules); a known lead is updated partially
    (``lead_updates.py``: absent columns and empty cells keep the stored value unless
    ``clear_empty``); counts of created / updated / unchanged. ``parallel``: check the rows in a
    child process (None: for a large file on two cores or more)."""
    refs = PartnerRefs(database)
    in_child = use_child(path, parallel)
    build = LeadRows(connection, clear_empty, refs.loaded() if in_child else refs)

    def write(session: Session, items: list[LeadUpdate]) -> Counter[str]:
        known: dict[str, Known] = {}  # looked up once per chunk, for merging and for intake
        merged = merge_known(session, items, known)
        taken = take_in_chunk(session, merged, actor=actor, known=known)
        return Counter(result.result.value for result in taken)

    return _import(
        database,
        path,
        encoding,
        build,
        lead_update_key,
        write,
        ("created", "updated", "unchanged"),
        skip_invalid=skip_invalid,
        progress=progress,
        parallel=in_child,
    )


def import_partners(
    database: Database,
    path: Path,
    *,
    encoding: str = "utf-8-sig",
    skip_invalid: bool = False,
    clear_empty: bool = False,
    progress: Progress | None = None,
    parallel: bool | None = None,
) -> ImportSummary:
    """Create partners or update them by external id as partial updates (``partner_updates.py``:
    absent columns and empty cells keep the stored value unless ``clear_empty``); counts of
    created / updated / unchanged. ``parallel`` as for ``import_leads``."""
    return _import(
        database,
        path,
        encoding,
        PartnerRows(clear_empty),
        update_key,
        apply_updates,
        ("created", "updated", "unchanged"),
        skip_invalid=skip_invalid,
        progress=progress,
        parallel=use_child(path, parallel),
    )
