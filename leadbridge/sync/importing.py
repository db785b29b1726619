"""Import validated leads and partners into the database, idempotently.

Rules: nothing is written when the report has errors unless ``skip_invalid``; leads go through
intake (so the same file twice creates nothing new), partners are upserted by external id.
Rows are committed in chunks so a long import shows progress and a crash keeps what was done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from leadbridge.connectors.csvfile import FileReport
from leadbridge.core.intake import take_in
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database

Progress = Callable[[int], None]
CHUNK = 200


@dataclass
class ImportSummary:
    file: str
    rows: int
    imported: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)
    skipped_invalid: int = 0
    aborted: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "rows": self.rows,
            **self.imported,
            "invalid": len(self.errors),
            "skipped_invalid": self.skipped_invalid,
            "aborted": self.aborted,
            "errors": self.errors,
        }


def _summary(report: FileReport[Any], skip_invalid: bool) -> ImportSummary:
    summary = ImportSummary(
        file=str(report.path),
        rows=report.rows,
        errors=[{"line": e.line, "message": e.message} for e in report.errors],
    )
    if report.errors and not skip_invalid:
        summary.aborted = True
    elif report.errors:
        summary.skipped_invalid = len({e.line for e in report.errors})
    return summary


ModelT = TypeVar("ModelT", bound=BaseModel)


def _import(
    database: Database,
    report: FileReport[ModelT],
    outcomes: tuple[str, ...],
    store_one: Callable[[Session, ModelT], str],
    *,
    skip_invalid: bool,
    progress: Progress | None,
) -> ImportSummary:
    """Store every valid row in chunked transactions, counting what ``store_one`` says happened."""
    summary = _summary(report, skip_invalid)
    if summary.aborted:
        return summary
    counts: Counter[str] = Counter(dict.fromkeys(outcomes, 0))
    for start in range(0, len(report.valid), CHUNK):
        chunk = report.valid[start : start + CHUNK]
        with database.transaction() as session:
            for _line, model in chunk:
                counts[store_one(session, model)] += 1
        if progress:
            progress(len(chunk))
    summary.imported = dict(counts)
    return summary


def import_leads(
    database: Database,
    report: FileReport[Lead],
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Take every valid lead in through intake; counts of created / updated / unchanged."""

    def store(session: Session, lead: Lead) -> str:
        return take_in(session, lead, actor="csv-import").result.value

    return _import(
        database,
        report,
        ("created", "updated", "unchanged"),
        store,
        skip_invalid=skip_invalid,
        progress=progress,
    )


def import_partners(
    database: Database,
    report: FileReport[Partner],
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Upsert every valid partner by external id; counts of created / updated."""

    def store(session: Session, partner: Partner) -> str:
        return "created" if PartnerRepository(session).upsert(partner)[1] else "updated"

    return _import(
        database, report, ("created", "updated"), store, skip_invalid=skip_invalid, progress=progress
    )
