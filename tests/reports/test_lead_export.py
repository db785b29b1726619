"""``leadbridge leads export`` to CSV and XLSX on SQLite and PostgreSQL: filters, streaming, and
cells a spreadsheet would run as formulas written as text."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from openpyxl import load_workbook
from typer.testing import CliRunner

from leadbridge.cli import leads
from leadbridge.cli.context import LazyRuntime
from leadbridge.core.errors import ConfigError
from leadbridge.core.leads import LeadService
from leadbridge.core.store.database import Database
from leadbridge.ops.lead_export import neutralise
from tests.builders import a_lead

RUNNER = CliRunner()
NASTY = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2+3", "@SUM(A1)", "\tTab AG", "Plain GmbH"]


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def lazy(ctx: typer.Context) -> None:  # what `leadbridge`'s root callback does
        ctx.obj = LazyRuntime(None)

    leads.register(root)
    return root


@pytest.fixture
def project(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, list[str]]:
    (tmp_path / "leadbridge.yaml").write_text(f"database_url: {db_url}\n")
    ids = []
    with Database(db_url).transaction() as session:
        for number in range(60):
            company = NASTY[number % len(NASTY)]
            lead = a_lead(company=company, campaign="fair" if number % 2 else "web")
            at = datetime(2026, 10, 1 + number % 20, tzinfo=UTC)
            LeadService(session, clock=lambda at=at: at).receive(
                lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}"
            )
            ids.append(lead.id)
    monkeypatch.setenv("LEADBRIDGE_CONFIG", str(tmp_path / "leadbridge.yaml"))
    return tmp_path, ids


def test_given_leads_when_exported_to_csv_then_every_lead_is_there_and_formulas_are_text(
    project: tuple,
) -> None:
    root, ids = project
    out = root / "leads.csv"
    result = RUNNER.invoke(app(), ["leads", "export", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["exported"] == len(ids)
    with out.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(r["id"] for r in rows) == sorted(ids)
    companies = {r["company"] for r in rows}
    assert companies == {"'" + c if c[0] in "=+-@\t" else c for c in NASTY}
    assert not any(r[c].startswith(("=", "+", "-", "@")) for r in rows for c in r)
    assert [r["created_at"] for r in rows] == sorted((r["created_at"] for r in rows), reverse=True)


def test_given_filters_when_exported_to_xlsx_then_only_matching_leads_and_no_formula_cells(
    project: tuple,
) -> None:
    root, ids = project
    out = root / "fair.xlsx"
    args = [
        "leads",
        "export",
        str(out),
        "--campaign",
        "fair",
        "--since",
        "2026-10-05",
        "--until",
        "2026-10-10",
    ]
    result = RUNNER.invoke(app(), args)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(out, read_only=True)["leads"]
    header, *rows = list(sheet.iter_rows(values_only=True))
    data = [dict(zip(header, row, strict=True)) for row in rows]
    expected = [n for n in range(len(ids)) if n % 2 and 5 <= 1 + n % 20 < 10]
    assert sorted(d["id"] for d in data) == sorted(ids[n] for n in expected)
    assert all(d["campaign"] == "fair" for d in data)
    workbook = load_workbook(out)  # not read-only: cell types are visible
    assert all(cell.data_type != "f" for row in workbook["leads"].iter_rows() for cell in row)
    assert any(str(d["company"]).startswith("'+1+1") for d in data)


def test_given_a_wrong_suffix_then_a_clear_error_and_no_file(project: tuple) -> None:
    root, _ = project
    result = RUNNER.invoke(app(), ["leads", "export", str(root / "leads.pdf")])
    assert isinstance(result.exception, ConfigError)
    assert "must end in .csv or .xlsx" in str(result.exception)
    assert not list(root.glob("*leads.pdf*"))


def test_neutralise_leaves_harmless_values_alone() -> None:
    assert neutralise("Müller GmbH") == "Müller GmbH"
    assert neutralise("=1") == "'=1"
    assert neutralise("\r=1") == "'\r=1"
    assert neutralise(5) == 5
