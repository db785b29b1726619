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
  (``core/history.py``); its partner (id or external id) must exist, else the row is bad.
"""

from __future__ import annotations

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
from leadbridge.core.store.database import Database
from leadbridge.core.store.maintenance import refresh_statistics
from leadbridge.core.store.tables import PartnerRow
from leadbridge.sync.bulk_intake import Incoming, Known, take_in_chunk
from leadbridge.sync.lead_updates import LeadUpdate, merge_known, update_from_row
from leadbridge.sync.partner_updates import apply_updates, update_from_csv, update_key

# progress(phase, rows so far, bytes of the file read so far); phase is "validating" or "importing"
Progress = Callable[[str, int, int], None]
CHUNK = 2000
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
        for item in _checked(path, encoding, build, key, seen, "importing", progress):
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


class PartnerRefs:
    """Partner ids by id and external id, loaded once on first use (history rows name partners)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._ids: dict[str, str] | None = None

    def resolve(self, ref: str) -> str:
        if self._ids is None:
            with self.database.transaction() as session:
                found = session.execute(select(PartnerRow.id, PartnerRow.external_id)).all()
            self._ids = {pid: pid for pid, _ in found} | {ext.lower(): pid for pid, ext in found if ext}
        partner_id = self._ids.get(ref) or self._ids.get(ref.lower())
        if partner_id is None:
            raise ValueError(f"unknown partner {ref!r} (import partners first)")
        return partner_id


def incoming(record: LeadRecord, refs: PartnerRefs) -> Incoming:
    """A validated row as bulk intake's input, its history's partner resolved."""
    if record.history is None:
        return Incoming(record.lead)
    return Incoming(record.lead, record.history, refs.resolve(record.history.partner))


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
) -> ImportSummary:
    """Take the file's leads in (module rules); a known lead is updated partially
    (``lead_updates.py``: absent columns and empty cells keep the stored value unless
    ``clear_empty``); counts of created / updated / unchanged."""
    refs = PartnerRefs(database)

    def build(row: dict[str, str | None]) -> LeadUpdate:
        return update_from_row(
            incoming(lead_record_from_csv(row, connection), refs), row, clear_empty=clear_empty
        )

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
        lambda item: lead_key(item.incoming.lead),
        write,
        ("created", "updated", "unchanged"),
        skip_invalid=skip_invalid,
        progress=progress,
    )


def import_partners(
    database: Database,
    path: Path,
    *,
    encoding: str = "utf-8-sig",
    skip_invalid: bool = False,
    clear_empty: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Create partners or update them by external id as partial updates (``partner_updates.py``:
    absent columns and empty cells keep the stored value unless ``clear_empty``); counts of
    created / updated / unchanged."""
    return _import(
        database,
        path,
        encoding,
        lambda row: update_from_csv(row, clear_empty=clear_empty),
        update_key,
        apply_updates,
        ("created", "updated", "unchanged"),
        skip_invalid=skip_invalid,
        progress=progress,
    )
