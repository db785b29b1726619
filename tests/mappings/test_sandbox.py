"""The shipped defaults against the sandbox's Salesforce org and HubSpot portal: check on a
customised org, --fix on a portal, and every seeded record mapping cleanly."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.hubspot import HubSpotConnector, connect
from leadbridge.mappings.apply import Plan
from leadbridge.mappings.check import check_mapping
from leadbridge.mappings.loader import default_mapping_path, load_mapping
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.clients import salesforce_client
from leadbridge.sandbox.salesforce.catalogue import pick
from tests.connectors.sandbox_hubspot import portal_config
from tests.connectors.sandbox_salesforce import sandbox_connector

SF_MAPPING = load_mapping(default_mapping_path("salesforce", "Lead", "manufacturer"))
HS_MAPPING = load_mapping(default_mapping_path("hubspot", "contacts", "manufacturer"))


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox.plan(services=["salesforce", "hubspot"], leads=40, seed=7) as sandbox:
        yield sandbox


def test_salesforce_default_matches_the_org_and_maps_every_seeded_lead(box: Sandbox) -> None:
    org = box.salesforce.org("manufacturer")
    sf = salesforce_client(org, box.ca_file)
    assert check_mapping(SF_MAPPING, sandbox_connector(org, box.ca_file, name="home").describe("Lead")) == []
    fields = ", ".join(SF_MAPPING.remote_fields("in"))
    records = sf.query_all(f"SELECT {fields} FROM Lead")["records"]
    mapped, failures = Plan(SF_MAPPING).map_batch(records, "home")
    assert len(records) == 40 and failures == []
    assert all(m.lead.address.country and m.lead.email for m in mapped)


def test_check_on_a_customised_salesforce_org(box: Sandbox) -> None:
    org = box.salesforce.org("manufacturer")
    org.add_field("Lead", pick("Heat_Source__c", "Gas|Oil|District Heating"))  # extra: harmless
    org.add_picklist_values("Lead", "Lifecycle_Stage__c", "PQL")  # not in the value map
    connector = sandbox_connector(org, box.ca_file, name="home")
    findings = check_mapping(SF_MAPPING, connector.describe("Lead"))
    assert [(f.kind, f.field, f.severity) for f in findings] == [("picklist", "Lifecycle_Stage__c", "error")]
    assert "'PQL'" in findings[0].message and findings[0].line > 1
    lead_id = str(
        salesforce_client(org, box.ca_file).query("SELECT Id FROM Lead LIMIT 1")["records"][0]["Id"]
    )
    record = connector.fetch_record("Lead", lead_id, SF_MAPPING.remote_fields("in"))
    assert Plan(SF_MAPPING).map_record(record, "home").lead.external_id == record["Id"]


def hubspot_connector(box: Sandbox) -> HubSpotConnector:
    service = box.hubspot
    return connect(
        portal_config(
            service.portal("manufacturer"), service.base_url("manufacturer"), box.ca_file, name="home"
        )
    )


def test_hubspot_check_fix_creates_the_missing_properties_through_the_cli(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not any(group.name == "mappings" for group in app.registered_groups):
        _register()
    portal = box.hubspot.describe()[0]
    (tmp_path / "leadbridge.yaml").write_text(
        "connections:\n  home:\n    kind: hubspot\n    role: manufacturer\n"
        f"    base_url: {portal['base_url']}\n    access_token: {portal['access_token']}\n"
        f"    ca_file: {box.ca_file}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    before = runner.invoke(app, ["mappings", "check", "home", "--json"])
    assert before.exit_code == 1, before.output
    missing = {f["field"] for f in json.loads(before.stdout)["findings"] if f["kind"] == "missing"}
    assert {"leadbridge_partner", "leadbridge_offered_at", "leadbridge_close_date"} <= missing
    assert "leadbridge_id" not in missing  # the portal has it already

    fixed = runner.invoke(app, ["mappings", "check", "home", "--fix", "--json"])
    report = json.loads(fixed.stdout)
    assert set(report["created"]) == missing
    assert [f for f in report["findings"] if f["severity"] == "error"] == [], report["findings"]
    assert fixed.exit_code == 0

    described = hubspot_connector(box).describe("contacts")
    assert described.fields["leadbridge_offered_at"].family == "datetime"
    assert described.fields["leadbridge_expected_revenue"].family == "number"


def test_every_seeded_hubspot_contact_maps_and_previews(box: Sandbox) -> None:
    client = box.hubspot.client("manufacturer")
    fields = HS_MAPPING.remote_fields("in")
    page = client.crm.contacts.basic_api.get_page(limit=100, properties=fields)
    records = [{"hs_object_id": item.id, **item.properties} for item in page.results]
    mapped, failures = Plan(HS_MAPPING).map_batch(records, "home-hs")
    assert len(records) == 40 and failures == []
    assert all(m.lead.stage in ("lead", "mql", "sql") and m.lead.address.country for m in mapped)
    one = hubspot_connector(box).fetch_record("contacts", records[0]["hs_object_id"], fields)
    assert Plan(HS_MAPPING).map_record(one, "home-hs").lead.email == mapped[0].lead.email


def test_salesforce_check_through_the_cli_prints_admin_steps(
    box: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not any(group.name == "mappings" for group in app.registered_groups):
        _register()
    org = box.salesforce.org("manufacturer")
    custom = tmp_path / "lead.yaml"
    custom.write_text(
        default_mapping_path("salesforce", "Lead", "manufacturer").read_text(encoding="utf-8")
        + "  - canonical: custom.heat_source\n    in: Heat_Pump_Type__c\n    out: Heat_Pump_Type__c\n",
        encoding="utf-8",
    )
    (tmp_path / "leadbridge.yaml").write_text(
        "connections:\n  home:\n    kind: salesforce\n    role: manufacturer\n    auth: session\n"
        f"    instance_url: {org.instance_url}\n    access_token: {org.session_id}\n"
        f"    ca_file: {box.ca_file}\n    mapping: lead.yaml\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["mappings", "check", "home", "--fix", "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert {(f["kind"], f["field"]) for f in report["findings"]} >= {("missing", "Heat_Pump_Type__c")}
    assert report["created"] == []
    assert any("API name Heat_Pump_Type__c, type Text(255)" in step for step in report["instructions"])
