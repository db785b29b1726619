"""The import fast path: driver-level inserts bind like SQLAlchemy, rows parse like csv.DictReader,
a re-run reads no lead data, and a changed row among unchanged ones is still a partial update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from leadbridge.connectors.csvstream import CsvStream
from leadbridge.core.store.bulk import insert_rows
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import IntakeRow, LeadRow
from leadbridge.sync.importing import import_leads

HEADER = "external_id,email,first_name,company,postal_code,city,country,stage"


def test_insert_rows_stores_what_an_orm_insert_stores_and_refuses_a_taken_key(database: Database) -> None:
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        {
            "connection": "csv",
            "external_id": f"X-{n}",
            "stamp": f"s{n}",
            "lead_id": None,
            "received_at": moment,  # the same object on every row: processed once
        }
        for n in range(3)
    ]
    table = cast(Table, IntakeRow.__table__)
    with database.transaction() as session:
        insert_rows(session.connection(), table, rows)
    with database.transaction() as session:
        stored = session.execute(select(IntakeRow).order_by(IntakeRow.external_id)).scalars().all()
    assert [(r.external_id, r.stamp) for r in stored] == [("X-0", "s0"), ("X-1", "s1"), ("X-2", "s2")]
    assert {r.received_at for r in stored} == {moment.astimezone(UTC)}  # aware UTC on both backends
    with pytest.raises(IntegrityError), database.transaction() as session:
        insert_rows(session.connection(), table, rows[:1])


def test_rows_are_read_by_the_normalised_header_short_long_and_blank_lines_as_dictreader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(
        " External_ID ,EMAIL,City\nA-1, a@b.example ,\n\nA-2,c@d.example\nA-3,e@f.example,Wien,extra\n",
        encoding="utf-8",
    )
    rows = list(CsvStream(path).rows())
    assert rows == [
        (2, {"external_id": "A-1", "email": "a@b.example", "city": None}),
        (4, {"external_id": "A-2", "email": "c@d.example", "city": None}),
        (5, {"external_id": "A-3", "email": "e@f.example", "city": "Wien"}),
    ]


def test_given_an_imported_file_when_one_row_changed_then_only_it_is_updated_partially(
    database: Database, tmp_path: Path
) -> None:
    lines = [f"F-{n},f{n}@firma.example,Fritz,Firma {n} GmbH,8033{n % 10},München,DE,mql" for n in range(50)]
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert import_leads(database, path).imported == {"created": 50, "updated": 0, "unchanged": 0}
    assert import_leads(database, path).imported == {"created": 0, "updated": 0, "unchanged": 50}
    # row 7 changes its company and leaves its first name empty: the stored first name is kept
    lines[7] = "F-7,f7@firma.example,,Neue Firma AG,80337,München,DE,mql"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert import_leads(database, path).imported == {"created": 0, "updated": 1, "unchanged": 49}
    with database.transaction() as session:
        row = session.execute(select(LeadRow).where(LeadRow.external_id == "F-7")).scalar_one()
        versions = session.execute(select(IntakeRow).where(IntakeRow.external_id == "F-7")).all()
    assert row.company == "Neue Firma AG" and row.data["first_name"] == "Fritz"
    assert len(versions) == 2
