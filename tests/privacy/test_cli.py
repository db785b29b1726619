"""``leadbridge leads export-subject`` and ``leadbridge leads erase`` on a project's database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.registry import default_registry
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.offers import OfferService
from leadbridge.core.store.database import Database
from tests.builders import a_lead, a_partner

EMAIL = "Erika.Subject@Example.com"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    (tmp_path / "leadbridge.yaml").write_text(
        "database_url: sqlite:///lb.db\nsecret_key: cli-test-secret-0123456789\n"
    )
    monkeypatch.chdir(tmp_path)
    database = Database(default_registry().load_settings(tmp_path / "leadbridge.yaml").sqlalchemy_url)
    database.upgrade()
    with database.transaction() as session:
        partner = a_partner(session, name="Inbox Partner", connection="inbox")
        lead = a_lead(email=EMAIL, phone="+49 171 555 0101")
        take_in(session, lead)
        LeadService(session).apply(lead.id, EventKind.ROUTE, actor="t", idempotency_key="route")
        OfferService(session).create(lead.id, partner.id, round=1, mode="assign", deadline=None, decision={})
    _register()
    return tmp_path, lead.id, partner.id


def _run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_given_a_person_when_exported_then_erased_then_the_export_is_empty(
    project: tuple[Path, str, str],
) -> None:
    root, lead_id, partner_id = project
    exported = json.loads(_run("leads", "export-subject", EMAIL))
    [lead] = exported["leads"]
    assert lead["id"] == lead_id and lead["data"]["phone"] == "+49 171 555 0101"
    assert [o["partner"] for o in lead["offers"]] == ["Inbox Partner"]
    assert [e["kind"] for e in lead["events"]][:2] == ["receive", "qualify"]

    report = json.loads(_run("leads", "erase", lead_id, "--reason", "ticket 4711", "--json"))
    assert report["lead_id"] == lead_id and not report["already"]
    assert report["recipients"] == [
        {"target": "inbox", "how": "inbox", "partner_id": partner_id, "remote_id": None}
    ]
    assert report["scrubbed"]["lead_events"] >= 3

    assert json.loads(_run("leads", "export-subject", EMAIL))["leads"] == []
    shown = json.loads(_run("leads", "show", lead_id, "--json"))
    assert (
        shown["state"] == "erased" and shown["lead"]["email"] is None and shown["lead"]["last_name"] is None
    )
    assert [o["status"] for o in shown["offers"]] == ["withdrawn"]
    assert [e["kind"] for e in shown["events"]][-2:] == ["erase", "erasure_notice"]
    assert b"erika.subject@example.com" not in (root / "lb.db").read_bytes()
    assert "already erased" in _run("leads", "erase", lead_id)


def test_erasing_an_unknown_lead_is_a_clear_error(project: tuple[Path, str, str]) -> None:
    result = CliRunner().invoke(app, ["leads", "erase", "L-nope"])
    assert result.exit_code == 1 and "L-nope does not exist" in result.output


def test_purge_expired_and_the_audit_log_from_the_cli(project: tuple[Path, str, str]) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from leadbridge.core.store.tables import LeadRow

    root, offered_id, _partner_id = project
    assert "no retention configured" in _run("leads", "purge-expired")
    (root / "policy.yaml").write_text("version: 1\nprivacy:\n  retention_days: {nurture: 30}\n")
    database = Database(default_registry().load_settings(root / "leadbridge.yaml").sqlalchemy_url)
    old = a_lead(stage="lead", email="old.nurture@example.com")
    with database.transaction() as session:
        take_in(session, old)
        ago = datetime.now(UTC) - timedelta(days=31)
        session.execute(update(LeadRow).where(LeadRow.id == old.id).values(updated_at=ago))
    assert json.loads(_run("leads", "purge-expired", "--json")) == {"erased": [old.id]}
    assert json.loads(_run("leads", "purge-expired", "--json")) == {"erased": []}
    assert b"old.nurture@example.com" not in (root / "lb.db").read_bytes()

    _run("leads", "show", offered_id)  # an identified view from the CLI is not logged; an export is
    _run("leads", "export-subject", EMAIL)
    logged = json.loads(_run("audit", "list", "--json"))
    assert [(r["actor"], r["channel"], r["action"], r["lead_id"]) for r in logged] == [
        ("cli", "cli", "export_subject", None),
        ("retention", "system", "erase", old.id),
    ]
    assert EMAIL.lower() not in json.dumps(logged)
    csv_text = _run("audit", "list", "--csv", "--lead", old.id)
    assert csv_text.splitlines()[0] == "at,actor,channel,action,lead_id,subject_ref,detail"
    assert len(csv_text.splitlines()) == 2 and "reason_code=retention" in csv_text
