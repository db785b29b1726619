"""``leadbridge report …`` on a real SQLite database holding the scripted history."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from leadbridge.cli import reports
from leadbridge.cli.context import LazyRuntime
from leadbridge.core.errors import ConfigError
from leadbridge.core.store.database import Database
from tests.reports.history import History, script

RUNNER = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Database, History]:
    url = f"sqlite:///{tmp_path / 'leadbridge.db'}"
    (tmp_path / "leadbridge.yaml").write_text(f"database_url: {url}\n")
    database = Database(url)
    database.upgrade()
    with database.transaction() as session:
        history = script(session)
    monkeypatch.setenv("LEADBRIDGE_CONFIG", str(tmp_path / "leadbridge.yaml"))
    return tmp_path, database, history


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def lazy(ctx: typer.Context) -> None:  # what `leadbridge`'s root callback does
        ctx.obj = LazyRuntime(None)

    reports.register(root)
    return root


def test_given_history_when_report_partners_json_then_one_row_per_partner_and_the_median(
    project: tuple,
) -> None:
    _, _, history = project
    result = RUNNER.invoke(
        app(), ["report", "partners", "--since", "2026-10-10", "--until", "2026-11-20", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows[:-1]] == sorted(history.partners.values())
    assert rows[-1]["name"] == "network median"
    assert all(0 <= r["acceptance_rate"] <= 1 for r in rows)


def test_given_history_when_report_campaigns_csv_then_totals_per_campaign(project: tuple) -> None:
    _, _, history = project
    result = RUNNER.invoke(app(), ["report", "campaigns", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    totals = {r["campaign"]: r for r in rows if r["partner_name"] == "all"}
    assert Decimal(totals["spring-fair"]["cost"]) == Decimal("2000.50")
    assert Decimal(totals["print"]["cost"]) == Decimal("99.99")
    assert int(totals["webinar"]["leads"]) == sum(1 for lead in history.leads if lead.campaign == "webinar")


def test_given_history_when_regions_table_then_countries_are_listed(project: tuple) -> None:
    result = RUNNER.invoke(app(), ["report", "regions"])
    assert result.exit_code == 0, result.output
    assert "DE" in result.stdout and "AT" in result.stdout


def test_given_a_costs_file_with_a_bad_row_then_nothing_is_imported_and_the_line_is_named(
    project: tuple,
) -> None:
    root, _, _ = project
    bad = root / "costs.csv"
    bad.write_text("campaign,date,amount\nfair,2026-10-01,10\nfair,yesterday,5\n,2026-10-02,-1\n")
    result = RUNNER.invoke(app(), ["report", "import-costs", str(bad)])
    assert isinstance(result.exception, ConfigError)
    assert "costs.csv:3: date 'yesterday'" in str(result.exception)
    assert "costs.csv:4: campaign is empty" in str(result.exception)
    good = root / "good.csv"
    good.write_text("campaign,date,amount,currency\nfair,2026-10-01,10,eur\nfair,2026-10-01,10,EUR\n")
    result = RUNNER.invoke(app(), ["report", "import-costs", str(good), "--json"])
    assert json.loads(result.stdout) == {"added": 1, "already_stored": 1}
    again = RUNNER.invoke(app(), ["report", "campaigns", "--json"])
    fair = next(r for r in json.loads(again.stdout) if r["campaign"] == "fair")
    assert fair["cost"] == "10.00" and fair["leads"] == 0
