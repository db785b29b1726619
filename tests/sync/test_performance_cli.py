"""``leadbridge partners performance push`` and ``mappings check`` over a sandbox org, and the
partner's ``home_account_id`` through the CSV import and the cockpit form."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.core.partner_form import FormError, form_from_partner, partner_from_form
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.demo.performance import home_mapping
from leadbridge.mappings.loader import default_mapping_path
from leadbridge.sandbox import Sandbox
from tests.builders import a_partner
from tests.connectors.sandbox_salesforce import org_config

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, Any, Database]]:
    with Sandbox.plan(partners=0, leads=0, seed=6, services=["salesforce"]) as box:
        org = box.salesforce.org("manufacturer")
        config = org_config(org, box.ca_file, name="home", mapping=str(home_mapping("salesforce", tmp_path)))
        data = config.model_dump(exclude_none=True, exclude={"name"})
        for key in ("password", "security_token"):
            data[key] = config.secret(key)
        settings = {"database_url": "sqlite:///leadbridge.db", "connections": {"home": data}}
        (tmp_path / "leadbridge.yaml").write_text(yaml.safe_dump(settings))
        database = Database(f"sqlite:///{tmp_path / 'leadbridge.db'}")
        database.upgrade()
        _register()
        yield tmp_path, org, database


def cli(path: Path, *args: str) -> Any:
    return runner.invoke(app, ["--config", str(path / "leadbridge.yaml"), *args])


def test_given_partners_imported_with_accounts_when_pushing_then_written_once_and_then_unchanged(
    project: tuple[Path, Any, Database],
) -> None:
    path, org, _database = project
    first, second = org.create("Account", {"Name": "Alpen"}), org.create("Account", {"Name": "Nord"})
    csv = path / "partners.csv"
    csv.write_text(
        "external_id,name,countries,home_account_id\n"
        f"PA-1,Alpen Solar GmbH,DE,{first}\nPA-2,Nord Wärme KG,DE,{second}\nPA-3,Ohne Konto AG,DE,\n"
    )
    imported = cli(path, "partners", "import", str(csv), "--json")
    assert imported.exit_code == 0, imported.output

    pushed = cli(path, "partners", "performance", "push", "--json")
    assert pushed.exit_code == 0, pushed.output
    result = json.loads(pushed.stdout.strip().splitlines()[-1])
    assert result["connections"] == [{"connection": "home", "partners": 2, "changed": 2, "unchanged": 0}]
    assert result["written"] == 2 and result["failed"] == 0
    accounts = {r["Id"]: r for r in org.records("Account")}
    assert accounts[first]["LeadBridge_Offers__c"] == 0  # no offers yet: zero, written all the same

    again = json.loads(cli(path, "partners", "performance", "push", "--json").stdout.strip().splitlines()[-1])
    assert again["connections"][0]["changed"] == 0 and again["written"] == 0

    one = cli(path, "partners", "performance", "push", "--partner", "PA-1")
    assert one.exit_code == 0 and "1 partner(s) with an account, 0 changed" in one.output
    unknown = cli(path, "partners", "performance", "push", "--partner", "PA-9")
    assert unknown.exit_code != 0 and "no partner 'PA-9'" in unknown.output


def test_given_a_section_with_a_wrong_field_when_checking_then_mappings_check_names_it(
    project: tuple[Path, Any, Database],
) -> None:
    path, _org, _database = project
    mapping = path / "wrong.yaml"
    text = default_mapping_path("salesforce", "Lead", "manufacturer").read_text()
    mapping.write_text(text + "\npartner_performance:\n  fields:\n    offers: Nope__c\n    won: Name\n")
    settings = yaml.safe_load((path / "leadbridge.yaml").read_text())
    settings["connections"]["home"]["mapping"] = str(mapping)
    (path / "leadbridge.yaml").write_text(yaml.safe_dump(settings))
    checked = cli(path, "mappings", "check", "home", "--json")
    assert checked.exit_code == 1
    found = {
        f["field"]: f for f in json.loads(checked.stdout)["findings"] if f["message"].startswith("partner_")
    }
    assert (
        found["Nope__c"]["kind"] == "missing"
        and "Account has no field Nope__c" in found["Nope__c"]["message"]
    )
    assert found["Name"]["kind"] == "type"


def test_the_cockpit_form_keeps_and_validates_the_home_account_id(database: Database) -> None:
    with database.transaction() as session:
        partner = a_partner(session, home_account_id="0015g00000AbCdE")
        stored = PartnerRepository(session).get(partner.id)
    form = form_from_partner(stored)
    assert form["home_account_id"] == "0015g00000AbCdE"
    assert partner_from_form(form, base=stored).home_account_id == "0015g00000AbCdE"
    cleared = partner_from_form({**form, "home_account_id": ""}, base=stored)
    assert cleared.home_account_id is None
    with pytest.raises(FormError, match="home_account_id"):
        partner_from_form({**form, "home_account_id": "x'; drop"}, base=stored)
