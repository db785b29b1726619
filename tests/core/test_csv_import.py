"""CSV import of leads and partners: bad rows by line number, encoding, duplicates, idempotency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.csvfile import CsvFileError, validate_leads, validate_partners
from leadbridge.core.store.database import Database
from leadbridge.sync.importing import import_leads, import_partners

HEADER = "external_id,first_name,last_name,email,company,postal_code,city,country,product_interests,stage\n"
GOOD = [
    "W-1,Anna,Alt,anna@alt.example,Alt GmbH,80331,München,DE,heat_pumps,mql\n",
    "W-2,Ben,Berg,ben@berg.example,Berg AG,1010,Wien,Österreich,solar_inverters;batteries,sql\n",
]


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_valid_rows_become_canonical_leads_with_iso_countries(tmp_path: Path) -> None:
    report = validate_leads(write(tmp_path, "l.csv", HEADER + "".join(GOOD)))
    assert report.errors == []
    (line1, first), (line2, second) = report.valid
    assert (line1, line2) == (2, 3)
    assert second.address.country == "AT"
    assert second.product_interests == ["solar_inverters", "batteries"]
    assert first.stage.value == "mql" and second.stage.value == "sql"


def test_bad_rows_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    text = (
        HEADER
        + GOOD[0]
        + "W-3,Cem,Can,,Can KG,10115,Berlin,DE,heat_pumps,mql\n"
        + "W-4,Dora,Dorn,dora@dorn.example,Dorn,12345,Atlantis,Narnia,heat_pumps,mql\n"
        + GOOD[0]
    )
    report = validate_leads(write(tmp_path, "l.csv", text))
    messages = {error.line: error.message for error in report.errors}
    assert set(messages) == {3, 4, 5}
    assert "email is required" in messages[3]
    assert "unknown country 'Narnia'" in messages[4]
    assert "duplicate of line 2" in messages[5]
    assert [line for line, _ in report.valid] == [2]


def test_a_multi_line_quoted_cell_keeps_later_line_numbers_right(tmp_path: Path) -> None:
    text = (
        HEADER
        + 'W-9,"Anna\nMaria",Alt,am@alt.example,Alt,80331,München,DE,heat_pumps,mql\n'
        + "W-10,X,Y,not-an-email,Y,80331,München,DE,heat_pumps,mql\n"
    )
    report = validate_leads(write(tmp_path, "l.csv", text))
    assert [e.line for e in report.errors] == [4]


def test_a_file_in_the_wrong_encoding_is_refused_with_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "latin.csv", HEADER + "".join(GOOD), encoding="cp1252")
    with pytest.raises(CsvFileError, match=r"latin.csv:2: not valid UTF-8 .*--encoding"):
        validate_leads(path)
    assert len(validate_leads(path, encoding="cp1252").valid) == 2


def test_semicolon_separated_excel_files_are_read(tmp_path: Path) -> None:
    text = (HEADER + GOOD[0]).replace(",", ";")
    report = validate_leads(write(tmp_path, "excel.csv", text))
    assert report.errors == [] and report.valid[0][1].company == "Alt GmbH"


def test_nothing_is_imported_from_a_file_with_errors_unless_skip_invalid(
    database: Database, tmp_path: Path
) -> None:
    path = write(tmp_path, "l.csv", HEADER + GOOD[0] + "W-3,Cem,Can,,Can KG,10115,Berlin,DE,heat_pumps,mql\n")
    refused = import_leads(database, path)
    assert refused.aborted and refused.imported == {}
    with database.transaction() as session:
        from sqlalchemy import func, select

        from leadbridge.core.store.tables import LeadRow

        assert session.execute(select(func.count()).select_from(LeadRow)).scalar_one() == 0
    partial = import_leads(database, path, skip_invalid=True)
    assert partial.imported["created"] == 1 and partial.skipped_invalid == 1


def test_importing_the_same_file_twice_creates_no_duplicates(database: Database, tmp_path: Path) -> None:
    path = write(tmp_path, "l.csv", HEADER + "".join(GOOD))
    first = import_leads(database, path)
    second = import_leads(database, path)
    assert first.imported == {"created": 2, "updated": 0, "unchanged": 0}
    assert second.imported == {"created": 0, "updated": 0, "unchanged": 2}
    changed = write(tmp_path, "l.csv", HEADER + GOOD[0] + GOOD[1].replace("Berg AG", "Berg Holding AG"))
    third = import_leads(database, changed)
    assert third.imported == {"created": 0, "updated": 1, "unchanged": 1}


def test_partners_import_is_idempotent_and_keeps_ids(database: Database) -> None:
    path = Path(__file__).resolve().parents[2] / "leadbridge" / "init_files" / "partners.csv"
    report = validate_partners(path)
    assert report.errors == [] and len(report.valid) == 30
    first = import_partners(database, path)
    again = import_partners(database, path)
    assert first.imported == {"created": 30, "updated": 0, "unchanged": 0}
    assert again.imported == {"created": 0, "updated": 0, "unchanged": 30}


def test_partner_rows_with_bad_profiles_are_reported(tmp_path: Path) -> None:
    text = (
        "external_id,name,countries,postal_ranges,radius,tier,contact_email\n"
        "A,Alpha,DE,80000-81999,,gold,a@alpha.example\n"
        "B,Beta,DE,80000,,gold,b@beta.example\n"
        'C,Gamma,DE,,"48.1,11.5",gold,c@gamma.example\n'
        "D,Delta,DE,,,diamond,d@delta.example\n"
    )
    report = validate_partners(write(tmp_path, "p.csv", text))
    messages = {e.line: e.message for e in report.errors}
    assert "must look like 80000-81999" in messages[3]
    assert "lat,lon,km" in messages[4]
    assert "tier" in messages[5]
    assert report.valid[0][1].territory.postal_ranges[0].contains("81234")


runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    _register_once()
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["init", "demo"])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path / "demo")
    return tmp_path / "demo"


_registered = False


def _register_once() -> None:
    global _registered
    if not _registered:
        _register()
        _registered = True


def test_cli_init_import_list_show_round_trip(project: Path) -> None:
    imported = runner.invoke(app, ["partners", "import", "partners.csv", "--json"])
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["created"] == 30
    leads = runner.invoke(app, ["leads", "import", "leads.csv", "--json"])
    assert json.loads(leads.stdout)["created"] == 200
    listed = json.loads(runner.invoke(app, ["leads", "list", "--json", "--limit", "500"]).stdout)
    assert len(listed) == 200 and {row["state"] for row in listed} <= {"qualified", "nurture"}
    shown = json.loads(runner.invoke(app, ["leads", "show", listed[0]["id"], "--json"]).stdout)
    assert next(e["kind"] for e in shown["events"]) == "receive"
    partners = json.loads(runner.invoke(app, ["partners", "list", "--json"]).stdout)
    assert len(partners) == 30


def test_cli_import_of_a_bad_file_exits_1_and_lists_every_error(project: Path) -> None:
    (project / "bad.csv").write_text(
        HEADER + GOOD[0] + "W-3,Cem,Can,,Can KG,10115,Berlin,DE,heat_pumps,mql\n"
    )
    result = runner.invoke(app, ["leads", "import", "bad.csv", "--json"])
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["aborted"] is True and body["errors"] == [{"line": 3, "message": "email is required"}]


def test_cli_refuses_a_database_without_schema(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _register_once()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "leadbridge.yaml").write_text("database_url: sqlite:///fresh.db\n")
    result = runner.invoke(app, ["leads", "list"])
    assert result.exit_code != 0
    assert "leadbridge db upgrade" in str(result.exception) + result.output
