"""The CLI: mappings validate / check / preview and leads quarantine, on a throw-away project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from leadbridge.cli import mappings as cli_mappings
from leadbridge.cli.main import _register, app
from leadbridge.connectors.hubspot import HubSpotConfig
from leadbridge.connectors.hubspot.describe import property_bodies, remote_from_properties
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.mappings.apply import Plan
from leadbridge.mappings.loader import parse_mapping
from leadbridge.mappings.quarantine import SqlQuarantine, quarantine
from leadbridge.ports import Capability, ConnectorRegistry, FieldFix, FieldSpec, Kind, RemoteObject

runner = CliRunner()
MAPPING = """\
system: hubspot
object: contacts
role: manufacturer
key: hs_object_id
fields:
  - {canonical: last_name, in: lastname, out: lastname, required: true}
  - canonical: stage
    in: lifecyclestage
    transform: {value_map: {values: {lead: lead, marketingqualifiedlead: mql, salesqualifiedlead: sql}}}
  - {canonical: status.partner_name, out: leadbridge_partner}
  - {canonical: status.offered_at, out: leadbridge_offered_at, transform: {datetime: epoch_ms}}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    if not any(group.name == "mappings" for group in app.registered_groups):
        _register()
    (tmp_path / "contacts.yaml").write_text(MAPPING, encoding="utf-8")
    (tmp_path / "leadbridge.yaml").write_text(
        "database_url: sqlite:///lb.db\n"
        "connections:\n"
        "  home:\n    kind: hubspot\n    role: manufacturer\n"
        "    mapping: contacts.yaml\n    access_token: x\n",
        encoding="utf-8",
    )
    Database(f"sqlite:///{tmp_path / 'lb.db'}").upgrade()
    monkeypatch.chdir(tmp_path)
    return tmp_path


class FakePortal:
    """A HubSpot object in memory: the describe verbs of a connector, registered as ``hubspot`` in
    the registry the CLI uses (so the CLI reaches it exactly as it reaches a real connector)."""

    name = "home"

    def __init__(self, properties: list[dict[str, Any]], records: dict[str, dict[str, Any]]) -> None:
        self.properties, self.records, self.created = properties, records, []  # type: list[dict[str, Any]]

    def describe(self, object_name: str) -> RemoteObject:
        return remote_from_properties(object_name, self.properties)

    def fetch_record(self, object_name: str, external_id: str, fields: Any) -> dict[str, Any]:
        return self.records[external_id]

    def create_fields(self, object_name: str, specs: list[FieldSpec]) -> FieldFix:
        bodies = property_bodies(object_name, specs)
        self.created += bodies
        self.properties += bodies
        return FieldFix(created=tuple(body["name"] for body in bodies))


@pytest.fixture
def portal(monkeypatch: pytest.MonkeyPatch) -> FakePortal:
    stages = [{"value": v} for v in ("lead", "marketingqualifiedlead", "salesqualifiedlead", "customer")]
    fake = FakePortal(
        [
            {"name": "hs_object_id", "type": "number", "fieldType": "number"},
            {"name": "lastname", "type": "string", "fieldType": "text"},
            {"name": "lifecyclestage", "type": "enumeration", "fieldType": "radio", "options": stages},
        ],
        {"7": {"hs_object_id": "7", "lastname": "Muster", "lifecyclestage": "salesqualifiedlead"}},
    )
    capabilities = frozenset({Capability.DESCRIBE, Capability.CREATE_FIELDS, Capability.HOME})
    kind = Kind("hubspot", HubSpotConfig, lambda _c, _d: fake, capabilities, default_object="contacts")
    monkeypatch.setattr(cli_mappings, "default_registry", lambda: ConnectorRegistry.of(kind))
    return fake


def test_validate_reports_every_broken_file_with_lines(project: Path) -> None:
    (project / "bad.yaml").write_text(
        MAPPING.replace("last_name", "lastname").replace("value_map", "valuemap")
    )
    result = runner.invoke(app, ["mappings", "validate", "bad.yaml", "contacts.yaml", "--json"])
    assert result.exit_code == 1
    [bad, good] = json.loads(result.stdout)
    assert [p["line"] for p in bad["problems"]] == [6, 9] and good["ok"] is True
    plain = runner.invoke(app, ["mappings", "validate", "bad.yaml"])
    assert "bad.yaml:6: unknown canonical field 'lastname' (did you mean 'last_name'?)" in plain.stdout


def test_validate_without_files_checks_shipped_and_configured_mappings(project: Path) -> None:
    result = runner.invoke(app, ["mappings", "validate", "--json"])
    assert result.exit_code == 0, result.output
    files = [Path(item["file"]).name for item in json.loads(result.stdout)]
    assert "salesforce_lead_manufacturer.yaml" in files and "contacts.yaml" in files


def test_check_reports_then_fix_creates_missing_hubspot_properties(project: Path, portal: FakePortal) -> None:
    first = runner.invoke(app, ["mappings", "check", "home", "--json"])
    assert first.exit_code == 1
    report = json.loads(first.stdout)
    kinds = {(f["kind"], f["field"], f["severity"]) for f in report["findings"]}
    assert ("missing", "leadbridge_partner", "error") in kinds
    assert ("picklist", "lifecyclestage", "error") in kinds  # 'customer' is not mapped

    fixed = runner.invoke(app, ["mappings", "check", "home", "--fix", "--json"])
    created = {body["name"]: body["type"] for body in portal.created}
    assert created == {"leadbridge_partner": "string", "leadbridge_offered_at": "datetime"}
    remaining = {(f["kind"], f["field"]) for f in json.loads(fixed.stdout)["findings"]}
    assert remaining == {("picklist", "lifecyclestage")} and fixed.exit_code == 1


def test_preview_shows_the_record_and_the_lead(project: Path, portal: FakePortal) -> None:
    result = runner.invoke(app, ["mappings", "preview", "home", "--id", "7", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["lead"]["last_name"] == "Muster" and shown["lead"]["stage"] == "sql"
    assert {
        "remote": "lifecyclestage",
        "value": "salesqualifiedlead",
        "canonical": "stage",
        "mapped": "sql",
    } in shown["fields"]
    portal.records["7"]["lifecyclestage"] = "customer"
    failed = runner.invoke(app, ["mappings", "preview", "home", "--id", "7", "--json"])
    assert failed.exit_code == 1 and "unmapped value 'customer'" in json.loads(failed.stdout)["error"]


def test_leads_quarantine_lists_and_rerun_takes_fixed_records_in(project: Path) -> None:
    database = Database(f"sqlite:///{project / 'lb.db'}")
    plan = Plan(parse_mapping(MAPPING, "contacts.yaml"))
    records = [{"hs_object_id": "8", "lastname": "Beispiel", "lifecyclestage": "customer"}]
    with database.transaction() as session:
        quarantine(SqlQuarantine(session), "home", plan.map_batch(records, "home")[1])
    listed = json.loads(runner.invoke(app, ["leads", "quarantine", "--json"]).stdout)
    assert [(item["external_id"], item["connection"]) for item in listed] == [("8", "home")]
    assert "lifecyclestage: unmapped value 'customer'" in listed[0]["reason"]

    (project / "contacts.yaml").write_text(MAPPING.replace("sql}", "sql, customer: sql}"), encoding="utf-8")
    result = runner.invoke(app, ["leads", "quarantine", "--rerun", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"open": [], "recovered": {"home": ["8"]}}
    with database.transaction() as session:
        row = session.query(LeadRow).filter_by(external_id="8").one()
        assert (row.source_connection, row.state) == ("home", "qualified")
