"""Rows checked in a child process while the import writes: the same outcome as the serial pass."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from leadbridge.connectors.csvfile import LEAD_COLUMNS, CsvFileError, _bool, lead_from_csv
from leadbridge.core.model import Address, Consent, Lead
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import IntakeRow, LeadEventRow, LeadRow, OfferRow, PartnerRow
from leadbridge.sync import importing
from leadbridge.sync.import_pipeline import checked_in_child
from leadbridge.sync.importing import import_leads, import_partners, lead_update_key
from tests.sync.test_streaming_import import PARTNERS, lead_line, leads_file

HISTORY = ",outcome,partner,offered_at,accepted_at,closed_at,amount,lost_reason"


def fresh(tmp_path: Path, name: str) -> Database:
    database = Database(f"sqlite:///{tmp_path / name}.db")
    database.upgrade()
    return database


def mixed_file(path: Path, rows: int) -> Path:
    """Open leads, closed (history) leads, and bad rows of every kind, across several chunks."""
    bad = {
        7: "S-7,Anna,Ohne,,Firma,80331,München,DE,,mql,,,,,,,",  # no e-mail
        150: "S-150,Anna,Land,a150@x.example,Firma,80331,Narnia-Stadt,Narnia,,mql,,,,,,,",
        importing.CHUNK + 3: lead_line(5) + ",,,,,,,",  # a duplicate of line 7 (S-5)
        importing.CHUNK + 9: lead_line(9) + ",won,P-NOPE,,,2024-05-01,10,",  # unknown partner
        rows - 2: lead_line(rows - 2) + ",,P-A,,,,,",  # a partner without an outcome
    }
    for n in range(0, rows, 97):
        bad.setdefault(n, lead_line(n) + ",won,P-A,2024-01-02,2024-01-03T10:00:00Z,2024-03-01,1200,")
    for n in range(rows):
        bad.setdefault(n, lead_line(n) + ",,,,,,,")
    return leads_file(path, rows, bad=bad, extra=HISTORY)


def stored(database: Database) -> dict[str, Any]:
    """What an import left, without the random ids: per external id the lead's state and data,
    its events and offers; and the intake records."""
    with database.transaction() as session:
        leads = {row.id: row for row in session.execute(select(LeadRow)).scalars()}
        events = session.execute(
            select(LeadEventRow.lead_id, LeadEventRow.seq, LeadEventRow.kind, LeadEventRow.payload)
        ).all()
        offers = session.execute(select(OfferRow.lead_id, OfferRow.mode, OfferRow.status)).all()
        intakes = session.execute(select(IntakeRow.external_id, IntakeRow.stamp)).all()
    by_lead: dict[str, Any] = {
        row.external_id: {
            "state": row.state,
            "data": {k: v for k, v in row.data.items() if k not in ("id", "created_at")},
            "events": sorted(
                (seq, kind, str(payload)) for lid, seq, kind, payload in events if lid == lead_id
            ),
            "offers": sorted((mode, status) for lid, mode, status in offers if lid == lead_id),
        }
        for lead_id, row in leads.items()
    }
    return {"leads": by_lead, "intakes": sorted(intakes)}


def no_child_left() -> bool:
    """No row-checking process of ours is running (read from /proc: children of this process)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == os.getpid() and b"leadbridge.sync.import_pipeline" in cmdline:
            return False
    return True


def test_given_a_mixed_file_when_checked_in_a_child_then_the_import_is_the_serial_one(tmp_path: Path) -> None:
    path = mixed_file(tmp_path / "mixed.csv", importing.CHUNK * 2 + 300)
    (tmp_path / "p.csv").write_text(PARTNERS)
    results = {}
    for parallel in (False, True):
        database = fresh(tmp_path, f"parallel-{parallel}")
        import_partners(database, tmp_path / "p.csv", parallel=parallel)
        summary = import_leads(database, path, skip_invalid=True, parallel=parallel)
        results[parallel] = (summary.as_dict(), stored(database))
    serial, piped = results[False], results[True]
    assert piped[0] == serial[0]
    assert serial[0]["invalid"] == 5 and serial[0]["created"] == importing.CHUNK * 2 + 295
    lines = [error["line"] for error in serial[0]["errors"]]
    assert lines == [9, 152, importing.CHUNK + 5, importing.CHUNK + 11, importing.CHUNK * 2 + 300]
    assert piped[1] == serial[1]
    assert any(lead["offers"] for lead in serial[1]["leads"].values())  # history rows were in it
    assert no_child_left()


def test_given_a_clean_file_without_skip_invalid_when_piped_then_both_passes_agree(tmp_path: Path) -> None:
    path = leads_file(tmp_path / "clean.csv", importing.CHUNK + 50)
    database = fresh(tmp_path, "clean")
    first = import_leads(database, path, parallel=True)
    assert first.imported == {"created": importing.CHUNK + 50, "updated": 0, "unchanged": 0}
    again = import_leads(database, path, parallel=True)  # a re-run finds every row unchanged
    assert again.imported == {"created": 0, "updated": 0, "unchanged": importing.CHUNK + 50}


def test_given_a_piped_import_interrupted_midway_when_run_again_then_it_continues(tmp_path: Path) -> None:
    rows = importing.CHUNK * 3 + 10
    path = leads_file(tmp_path / "resume.csv", rows)
    database = fresh(tmp_path, "resume")

    def interrupt(phase: str, done: int, _bytes: int) -> None:
        if phase == "importing" and done >= importing.CHUNK * 2 + 100:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        import_leads(database, path, skip_invalid=True, progress=interrupt, parallel=True)
    assert no_child_left()  # the child was stopped with the import, not left reading the file
    with database.transaction() as session:
        kept = len(session.execute(select(LeadRow.id)).all())
    assert kept == importing.CHUNK * 2
    again = import_leads(database, path, skip_invalid=True, parallel=True)
    assert again.imported == {"created": rows - kept, "updated": 0, "unchanged": kept}


def test_given_an_undecodable_line_when_piped_then_the_file_error_names_it_as_the_serial_pass(
    tmp_path: Path,
) -> None:
    path = leads_file(tmp_path / "latin.csv", 30)
    path.write_bytes(path.read_bytes().replace(b"Nummer20,", "Nümmer20,".encode("latin-1")))
    database = fresh(tmp_path, "latin")
    messages = []
    for parallel in (False, True):
        with pytest.raises(CsvFileError) as raised:
            import_leads(database, path, skip_invalid=True, parallel=parallel)
        messages.append(str(raised.value))
    assert messages[0] == messages[1] and ":22: not valid UTF-8" in messages[0]
    assert no_child_left()


def test_given_partners_when_piped_then_they_import_as_serially(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text(PARTNERS + "P-C,,DE,gold,c@c.example\n")
    found = []
    for parallel in (False, True):
        database = fresh(tmp_path, f"partners-{parallel}")
        summary = import_partners(database, tmp_path / "p.csv", skip_invalid=True, parallel=parallel)
        with database.transaction() as session:
            names = sorted(session.execute(select(PartnerRow.name)).scalars())
        found.append((summary.as_dict(), names))
    assert found[0] == found[1] and found[0][1] == ["Alpha", "Beta"]
    assert found[0][0]["errors"] == [{"line": 4, "message": "name is required"}]


def test_the_child_yields_items_in_file_order_with_progress(tmp_path: Path) -> None:
    path = leads_file(tmp_path / "order.csv", 1234)
    calls: list[tuple[str, int]] = []
    build = importing.LeadRows("csv", False, importing.PartnerIds({}))
    items = list(
        checked_in_child(
            path,
            "utf-8-sig",
            build,
            lead_update_key,
            check_duplicates=True,
            batch=100,
            phase="importing",
            progress=lambda phase, rows, _bytes: calls.append((phase, rows)),
        )
    )
    assert [item[0] for item in items if isinstance(item, tuple)] == list(range(2, 1236))
    assert calls == [("importing", 500), ("importing", 1000), ("importing", -1)]


def by_parts(row: dict[str, str | None]) -> str:
    """The message a lead row got when its address, consent and lead were validated one by one
    (before a row was validated once): the reference for ``lead_from_csv``'s messages."""
    try:
        Address.model_validate(
            {
                key: row.get(key)
                for key in ("street", "postal_code", "city", "state", "country", "latitude", "longitude")
            }
        )
        Consent(
            share_with_partners=_bool(row.get("consent_share")), marketing=_bool(row.get("consent_marketing"))
        )
        Lead.model_validate(
            {
                "email": row.get("email"),
                "employees": row.get("employees"),
                "score": row.get("score"),
                "language": row.get("language"),
                "annual_revenue": row.get("annual_revenue"),
            }
        )
    except ValidationError as error:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
            for e in error.errors()
        )
    except ValueError as error:
        return str(error)
    return ""


@pytest.mark.parametrize(
    "cells",
    [
        {"country": "Narnia"},
        {"latitude": "99"},
        {"country": "Narnia", "employees": "-5"},
        {"consent_share": "vielleicht"},
        {"consent_share": "vielleicht", "latitude": "abc"},
        {"consent_share": "vielleicht", "employees": "-5"},
        {"employees": "-5", "score": "x", "language": "deutsch"},
        {"email": "not-an-address"},
        {"annual_revenue": "-1"},
    ],
)
def test_a_row_validated_once_reports_what_validating_its_parts_reported(cells: dict[str, str]) -> None:
    row: dict[str, str | None] = dict.fromkeys(LEAD_COLUMNS) | {
        "external_id": "X-1",
        "email": "anna@firma.example",
        "country": "DE",
    }
    row |= cells
    with pytest.raises(ValueError) as raised:
        lead_from_csv(row, "csv")
    expected = by_parts(row)
    assert expected and str(raised.value) == expected
