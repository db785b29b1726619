"""The CLI over sandbox orgs: ``connections check``, ``sync``, ``outbox list`` and ``outbox retry``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import select, update
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.core.intake import take_in
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OutboxRow
from leadbridge.sandbox import Sandbox
from tests.builders import a_lead
from tests.connectors.sandbox_salesforce import add_leads, org_config

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, Sandbox]]:
    with Sandbox.plan(partners=1, leads=0, seed=4, services=["salesforce"]) as box:
        home, partner_org = box.salesforce.org("manufacturer"), box.salesforce.org("partner-01")

        def plain(config: Any) -> dict[str, Any]:
            data = config.model_dump(exclude_none=True, exclude={"name"})
            for key in ("password", "security_token"):
                data[key] = config.secret(key)
            return data

        settings = {
            "database_url": "sqlite:///leadbridge.db",
            "connections": {
                "home": plain(org_config(home, box.ca_file, name="home")),
                "p1": plain(
                    org_config(partner_org, box.ca_file, name="p1", role="partner", partner_id="PA-1")
                ),
            },
        }
        (tmp_path / "leadbridge.yaml").write_text(yaml.safe_dump(settings))
        database = Database(f"sqlite:///{tmp_path / 'leadbridge.db'}")
        database.upgrade()
        with database.transaction() as session:
            PartnerRepository(session).upsert(
                Partner.model_validate(
                    {
                        "name": "Partner 1",
                        "external_id": "PA-1",
                        "connection": "p1",
                        "territory": {"countries": ["DE"]},
                        "product_lines": ["heat_pumps"],
                        "certifications": [{"name": "heat_pumps", "level": 2}],
                    }
                )
            )
        add_leads(home, 4, same_stamp=True)
        _register()
        yield tmp_path, box


def cli(project: Path, *args: str) -> Any:
    result = runner.invoke(app, ["--config", str(project / "leadbridge.yaml"), *args])
    return result


def test_given_good_and_bad_connections_when_checking_then_each_says_what_to_fix(
    project: tuple[Path, Sandbox],
) -> None:
    path, _ = project
    ok = cli(path, "connections", "check", "--json")
    assert ok.exit_code == 0, ok.output
    assert {entry["connection"]: entry["ok"] for entry in json.loads(ok.stdout)} == {"home": True, "p1": True}
    config = yaml.safe_load((path / "leadbridge.yaml").read_text())
    config["connections"]["p1"]["password"] = "wrong"
    (path / "leadbridge.yaml").write_text(yaml.safe_dump(config))
    bad = cli(path, "connections", "check", "p1")
    assert bad.exit_code == 1
    text = " ".join(bad.stdout.split())
    assert "FAIL p1" in text and "refused the login (INVALID_LOGIN" in text and "check the username" in text


def test_given_leads_when_syncing_then_they_reach_the_partner_and_a_second_sync_does_nothing(
    project: tuple[Path, Sandbox],
) -> None:
    path, box = project
    first = cli(path, "sync", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["pulled"][0]["created"] == 4 and report["routed"] == 4
    copies = [r for r in box.salesforce.org("partner-01").records("Lead") if r.get("LeadBridge_Id__c")]
    assert len(copies) == 4
    cli(path, "sync")
    human = cli(path, "sync")
    assert human.exit_code == 0, human.output
    assert "0 written" in human.stdout and "routed: 0" in human.stdout


def test_given_a_dead_letter_when_retried_then_the_next_sync_sends_it(project: tuple[Path, Sandbox]) -> None:
    path, box = project
    partner_org = box.salesforce.org("partner-01")
    partner_org.faults.set("collections.upsert", error_rate=1.0, error="server_error")
    failed = cli(path, "sync", "--json")
    assert failed.exit_code == 1
    database = Database(f"sqlite:///{path / 'leadbridge.db'}")
    with database.transaction() as session:  # the last try failed: dead-letter it (as after 6 tries)
        session.execute(update(OutboxRow).where(OutboxRow.status == "pending").values(status="dead"))
    listed = json.loads(cli(path, "outbox", "list", "--status", "dead", "--json").stdout)
    assert listed["counts"]["dead"] == 4 and all(row["target"] == "p1" for row in listed["rows"])
    assert "server_error" in (listed["rows"][0]["last_error"] or "") or listed["rows"][0]["last_error"]
    partner_org.faults.clear()
    assert json.loads(cli(path, "outbox", "retry", "--json").stdout) == {"requeued": 4}
    assert cli(path, "sync").exit_code == 0
    copies = [r for r in partner_org.records("Lead") if r.get("LeadBridge_Id__c")]
    assert len(copies) == 4
    table = cli(path, "outbox", "list")
    assert "sent" in table.stdout


def test_given_a_cli_sync_then_status_shows_when_each_connection_last_synced(
    project: tuple[Path, Sandbox],
) -> None:
    path, _box = project
    before = json.loads(cli(path, "status", "--json").stdout.strip().splitlines()[-1])
    assert before["last_sync"] == {"home": None, "p1": None}  # "never"
    assert cli(path, "sync", "--json").exit_code == 0
    after = json.loads(cli(path, "status", "--json").stdout.strip().splitlines()[-1])
    assert after["last_sync"]["home"] is not None and after["last_sync"]["p1"] is not None


def test_given_a_lead_routed_from_the_cli_then_its_write_back_and_offer_are_queued(
    project: tuple[Path, Sandbox],
) -> None:
    path, box = project
    (external,) = add_leads(box.salesforce.org("manufacturer"), 1, same_stamp=False)
    database = Database(f"sqlite:///{path / 'leadbridge.db'}")
    with database.transaction() as session:  # the lead arrives (as a pull would take it in)
        take_in(session, a_lead(source_connection="home", external_id=external))
        lead_id = session.execute(select(LeadRow.id).where(LeadRow.external_id == external)).scalar_one()
    routed = cli(path, "route", lead_id, "--json")
    assert routed.exit_code == 0, routed.output
    with database.transaction() as session:
        queued = {
            (r.target, r.kind) for r in session.execute(select(OutboxRow)).scalars() if r.lead_id == lead_id
        }
    assert ("home", "lead_status") in queued and ("p1", "partner_lead") in queued
