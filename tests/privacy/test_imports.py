"""Lead imports are partial updates: a re-import changes only what the file says about a known lead."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.registry import default_registry
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.model import Lead
from leadbridge.core.privacy.consent import ConsentScope
from leadbridge.core.privacy.withdrawal import set_scope
from leadbridge.core.store.database import Database
from leadbridge.sync.importing import import_leads

FULL = (
    "external_id,email,first_name,last_name,phone,company,postal_code,city,country,stage,consent_share,budget\n"
    "C-1,erika@example.com,Erika,Muster,+49 89 111,Muster GmbH,80331,München,DE,mql,yes,50000\n"
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _lead(database: Database) -> tuple[Lead, str]:
    with database.transaction() as session:
        row = LeadService(session).find_by_external("csv", "C-1")
        assert row is not None
        return lead_from_row(row), row.id


def test_given_a_known_lead_when_a_partial_file_is_imported_then_only_what_it_says_changes(
    database: Database, tmp_path: Path
) -> None:
    assert import_leads(database, _write(tmp_path, "full.csv", FULL)).imported["created"] == 1
    before, lead_id = _lead(database)
    assert before.address.geocoded and before.custom == {"budget": "50000"}
    with database.transaction() as session:  # the DPO narrowed the consent through the API meanwhile
        scope = ConsentScope(share="classes", countries=["DE"])
        set_scope(session, lead_id, scope, actor="dpo", how="anonymise", now=datetime.now(UTC))

    partial = _write(tmp_path, "partial.csv", "external_id,email,phone,company,consent_share\n"
                                              "C-1,erika@example.com,+49 89 222,,yes\n")  # fmt: skip
    summary = import_leads(database, partial)
    assert summary.imported == {"created": 0, "updated": 1, "unchanged": 0}
    after, same_id = _lead(database)
    assert same_id == lead_id and after.phone == "+49 89 222"  # the one value the file changed
    assert (after.first_name, after.last_name, after.company) == ("Erika", "Muster", "Muster GmbH")
    assert after.address == before.address and after.custom == {"budget": "50000"}  # kept, geocoding too
    assert after.consent.scope == scope and after.consent.share_with_partners  # same flag: scope kept
    assert import_leads(database, partial).imported == {"created": 0, "updated": 0, "unchanged": 1}

    moved = _write(
        tmp_path, "moved.csv", "external_id,email,postal_code,city\nC-1,erika@example.com,10115,Berlin\n"
    )
    assert import_leads(database, moved).imported["updated"] == 1
    placed, _ = _lead(database)
    assert placed.address.postal_code == "10115" and placed.address.geocoded != before.address.geocoded
    assert placed.address.latitude and placed.address.latitude > 52  # placed again, in Berlin

    withdrawn = _write(tmp_path, "no.csv", "external_id,email,consent_share\nC-1,erika@example.com,no\n")
    assert import_leads(database, withdrawn).imported["updated"] == 1
    last, _ = _lead(database)
    assert not last.consent.share_with_partners and last.consent.scope is None  # a new statement
    assert last.consent.effective.share == "none" and last.first_name == "Erika"
    with database.transaction() as session:
        kinds = [e.kind for e in LeadService(session).events(lead_id)]
    assert kinds.count("consent") == 2  # the DPO's and the file's


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    (tmp_path / "leadbridge.yaml").write_text(
        "database_url: sqlite:///lb.db\nsecret_key: cli-test-secret-0123456789\n"
    )
    monkeypatch.chdir(tmp_path)
    database = Database(default_registry().load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url)
    database.upgrade()
    _register()
    return database


def test_clear_empty_from_the_cli_clears_the_empty_cells_only(project: Database, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["leads", "import", str(_write(tmp_path, "full.csv", FULL))]).exit_code == 0
    partial = _write(
        tmp_path, "p.csv", "external_id,email,company,phone\nC-1,erika@example.com,,+49 89 333\n"
    )
    kept = runner.invoke(app, ["leads", "import", str(partial), "--json"])
    assert kept.exit_code == 0, kept.output
    assert json.loads(kept.output)["updated"] == 1 and _lead(project)[0].company == "Muster GmbH"
    cleared = runner.invoke(app, ["leads", "import", str(partial), "--clear-empty", "--json"])
    assert cleared.exit_code == 0 and json.loads(cleared.output)["updated"] == 1, cleared.output
    lead, _ = _lead(project)
    assert lead.company is None and lead.phone == "+49 89 333" and lead.first_name == "Erika"


def test_parallel_from_the_cli_imports_through_the_child_process_with_the_same_result(
    project: Database, tmp_path: Path
) -> None:
    runner = CliRunner()
    piped = runner.invoke(
        app, ["leads", "import", str(_write(tmp_path, "full.csv", FULL)), "--parallel", "--json"]
    )
    assert piped.exit_code == 0, piped.output
    assert json.loads(piped.output)["created"] == 1
    lead, _ = _lead(project)
    assert (lead.company, lead.phone, lead.first_name) == ("Muster GmbH", "+49 89 111", "Erika")
