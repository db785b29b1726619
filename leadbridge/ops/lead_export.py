"""Lead exports to CSV and XLSX that write each lead as it is read, safe to open in a spreadsheet.

Rules:
- the listing is the one ``leads list`` streams (``LISTED`` columns, newest first, read with
  ``yield_per`` — a server-side cursor on PostgreSQL): memory stays flat for any number of leads;
- CSV injection: a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
  is a formula to a spreadsheet; it is written with a leading ``'`` so it shows as text (OWASP);
- XLSX is written by openpyxl's write-only workbook (rows go to disk as they come); its cells are
  neutralised the same way and are always strings or dates, never formulas;
- filters: states, holding partner, campaign, country, e-mail/company contains, created in
  ``[since, until)``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import ConfigError
from leadbridge.core.store.tables import LeadRow

STREAM_BATCH = 1000  # rows fetched per round trip

LISTED = (
    LeadRow.id,
    LeadRow.external_id,
    LeadRow.source_connection,
    LeadRow.state,
    LeadRow.partner_id,
    LeadRow.email,
    LeadRow.company,
    LeadRow.country,
    LeadRow.postal_code,
    LeadRow.campaign,
    LeadRow.created_at,
)
COLUMNS = ["id", "external_id", "source", "state", "partner_id", "email", "company", "country",
           "postal_code", "campaign", "created_at"]  # fmt: skip
FORMATS = ("csv", "xlsx")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class LeadSelection:
    """Which leads a listing or export covers (module rules)."""

    states: tuple[str, ...] = ()
    partner_id: str | None = None
    campaign: str | None = None
    country: str | None = None
    search: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 0

    def query(self) -> Select[*tuple[Any, ...]]:
        """The listing query, newest first."""
        query = select(*LISTED).order_by(LeadRow.created_at.desc(), LeadRow.id.desc())
        if self.limit > 0:
            query = query.limit(self.limit)
        if self.states:
            query = query.where(LeadRow.state.in_(self.states))
        if self.partner_id:
            query = query.where(LeadRow.partner_id == self.partner_id)
        if self.campaign:
            query = query.where(LeadRow.campaign == self.campaign)
        if self.country:
            query = query.where(LeadRow.country == self.country.upper())
        if self.search:
            pattern = f"%{self.search.lower()}%"
            query = query.where(or_(LeadRow.email.ilike(pattern), LeadRow.company.ilike(pattern)))
        if self.since is not None:
            query = query.where(LeadRow.created_at >= self.since)
        if self.until is not None:
            query = query.where(LeadRow.created_at < self.until)
        return query


def listed(r: Any) -> dict[str, Any]:
    """One listed lead row as plain data (the ``leads list --json`` shape)."""
    return {
        "id": r.id,
        "external_id": r.external_id,
        "source": r.source_connection,
        "state": r.state,
        "partner_id": r.partner_id,
        "email": r.email,
        "company": r.company,
        "country": r.country,
        "postal_code": r.postal_code,
        "campaign": r.campaign,
        "created_at": r.created_at.isoformat(),
    }


def stream_leads(session: Session, selection: LeadSelection) -> Iterator[dict[str, Any]]:
    """The selected leads as plain data, read in batches as the caller consumes them."""
    rows = session.execute(selection.query().execution_options(yield_per=STREAM_BATCH))
    return (listed(row) for row in rows)


def neutralise(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, made plain text (module rules)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def safe_row(item: dict[str, Any]) -> list[Any]:
    """The export cells of one lead, in ``COLUMNS`` order, neutralised; None becomes empty."""
    return [neutralise("" if item[c] is None else item[c]) for c in COLUMNS]


def write_csv(items: Iterable[dict[str, Any]], out: IO[str], *, header: bool = True) -> int:
    """Write a header (unless told not to) and each lead to ``out`` as it comes; returns how many."""
    writer = csv.writer(out, lineterminator="\r\n")
    if header:
        writer.writerow(COLUMNS)
    count = 0
    for item in items:
        writer.writerow(safe_row(item))
        count += 1
    return count


def write_xlsx(items: Iterable[dict[str, Any]], out: Path | IO[bytes]) -> int:
    """Write a one-sheet workbook of the leads (write-only: rows stream to disk); returns how many."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("leads")
    sheet.append(COLUMNS)
    count = 0
    for item in items:
        sheet.append(safe_row(item))
        count += 1
    book.save(out)
    return count


def format_of(path: Path) -> str:
    """``csv`` or ``xlsx`` from the file name; anything else is a clear error."""
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ConfigError(f"cannot export to {path.name!r}: the file name must end in .csv or .xlsx")
    return suffix


def export_leads(session: Session, selection: LeadSelection, path: Path) -> int:
    """Export the selected leads to ``path`` (CSV or XLSX by its suffix); returns how many.

    The file is written beside its target and renamed when complete, so a failed export never
    leaves a half-written file under the requested name."""
    kind = format_of(path)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if kind == "csv":
            with partial.open("w", encoding="utf-8-sig", newline="") as handle:
                count = write_csv(stream_leads(session, selection), handle)
        else:
            count = write_xlsx(stream_leads(session, selection), partial)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return count
