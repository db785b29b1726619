"""Partner performance onto the partners' accounts in the home CRM, through the real client libraries
(simple-salesforce, hubspot-api-client, requests/MSAL) against the HTTPS sandboxes: the figures
written equal the report's, unchanged figures are not written again, a forged field or an unknown
account fails alone, and the step runs from the reconcile sweep without any kick."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from leadbridge.connectors.registry import default_registry
from leadbridge.core.model import utcnow
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.reports.scorecard import partner_scorecard
from leadbridge.core.reports.window import ReportFilter
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.demo.performance import SECTIONS, home_mapping
from leadbridge.mappings.loader import MappingError, default_mapping_path, parse_mapping
from leadbridge.sandbox import Sandbox
from leadbridge.sync.deliver import flush
from leadbridge.sync.performance_push import PERFORMANCE, push, push_status, with_performance
from leadbridge.sync.reconcile import due_work
from leadbridge.sync.steps import FLUSH_OUTBOX, PUSH_PERFORMANCE, Followup, JobContext
from leadbridge.sync.work import step_table
from leadbridge.sync.writers import HomeWriter
from tests.connectors import sandbox_dynamics, sandbox_hubspot, sandbox_salesforce
from tests.reports.history import START, History, script

NOW = START + timedelta(days=80)  # the scripted history lies within the section's 90-day window


def _link(database: Database, accounts: dict[str, str]) -> None:
    with database.transaction() as session:
        repo = PartnerRepository(session)
        for partner_id, account_id in accounts.items():
            repo.upsert(repo.get(partner_id).model_copy(update={"home_account_id": account_id}))


def _expected(database: Database) -> dict[str, Any]:
    """The report's own figures, per partner, over the window (the scorecard's public entry point)."""
    with database.transaction() as session:
        card = partner_scorecard(session, ReportFilter(since=NOW - timedelta(days=90), until=NOW))
    return {row.partner_id: row for row in card.rows}


def _home(config: Any) -> Any:
    """The home connector as the runtime builds it: the registry resolves the connection's mapping."""
    return default_registry().connector(
        Settings(connections={"home": config}), "home", retry=sandbox_salesforce.no_wait()
    )


def _flush(database: Database, connector: Any) -> Any:
    writer = with_performance(HomeWriter(connector), connector)
    return flush(database, "home", writer, worker="t", clock=lambda: NOW)


@pytest.fixture
def sf(database: Database, tmp_path: Path) -> Iterator[tuple[Any, Any, History, dict[str, str]]]:
    with Sandbox.plan(partners=0, leads=0, seed=3, services=["salesforce"]) as box:
        org = box.salesforce.org("manufacturer")
        with database.transaction() as session:
            history = script(session)
        accounts = {pid: org.create("Account", {"Name": name}) for pid, name in history.partners.items()}
        _link(database, accounts)
        mapping = home_mapping("salesforce", tmp_path)
        connector = _home(sandbox_salesforce.org_config(org, box.ca_file, name="home", mapping=str(mapping)))
        yield org, connector, history, accounts


def test_given_partners_with_accounts_when_pushed_then_salesforce_accounts_carry_the_reports_figures(
    database: Database, sf: tuple[Any, Any, History, dict[str, str]]
) -> None:
    org, connector, _history, accounts = sf
    summary = push(database, "home", connector, now=NOW)
    assert summary is not None and sorted(summary.queued) == sorted(accounts)
    stats = _flush(database, connector)
    assert stats.written == 3 and stats.failed == 0, stats.errors
    expected = _expected(database)
    by_id = {r["Id"]: r for r in org.records("Account")}
    for partner_id, account_id in accounts.items():
        row, written = expected[partner_id], by_id[account_id]
        assert row.offers > 0  # the history gives every partner offers: the comparison means something
        assert written["LeadBridge_Offers__c"] == row.offers
        assert written["LeadBridge_Won__c"] == row.won
        assert written["LeadBridge_Acceptance_Rate__c"] == pytest.approx(round(row.acceptance_rate * 100, 2))
        assert written["LeadBridge_Median_Accept_Hours__c"] == pytest.approx(
            round(row.median_accept_hours, 2)
        )
        assert Decimal(str(written["LeadBridge_Revenue_Won__c"])) == row.revenue
        if row.sla_compliance is not None:
            assert written["LeadBridge_SLA_Compliance__c"] == pytest.approx(
                round(row.sla_compliance * 100, 2)
            )
        assert written["LeadBridge_Performance_Updated__c"] == NOW
    with database.transaction() as session:
        status = push_status(session, next(iter(accounts)))
    assert status is not None and status.written_at == NOW and status.error is None

    # the same figures an hour later: nothing queued, nothing written (idempotent)
    again = push(database, "home", connector, now=NOW + timedelta(hours=1))
    assert again is not None and again.queued == [] and again.unchanged == 3
    assert _flush(database, connector).rows == 0


def test_given_an_unknown_account_then_that_partner_fails_alone(
    database: Database, sf: tuple[Any, Any, History, dict[str, str]]
) -> None:
    org, connector, _history, accounts = sf
    broken = next(iter(accounts))
    _link(database, {broken: "001000000000000AAA"})  # an Account id the org does not have
    push(database, "home", connector, now=NOW)
    stats = _flush(database, connector)
    assert stats.written == 2 and stats.dead == 1
    written = {r["Id"] for r in org.records("Account") if r.get("LeadBridge_Performance_Updated__c")}
    assert written == {a for p, a in accounts.items() if p != broken}
    with database.transaction() as session:
        status = push_status(session, broken)
    assert status is not None and status.status == "dead" and status.error


def test_given_a_forged_field_then_a_clear_error_and_the_good_mapping_still_writes(
    database: Database, sf: tuple[Any, Any, History, dict[str, str]], tmp_path: Path
) -> None:
    org, good, _history, _accounts = sf
    text = default_mapping_path("salesforce", "Lead", "manufacturer").read_text()
    forged = tmp_path / "forged.yaml"
    forged.write_text(
        text + "\npartner_performance:\n  fields:\n    offers: Forged_Offers__c\n    won: Name\n"
    )
    connector = _home(
        sandbox_salesforce.org_config(org, good.config.ca_file, name="home", mapping=str(forged))
    )
    push(database, "home", connector, now=NOW)
    stats = _flush(database, connector)
    assert stats.dead == 3 and stats.written == 0
    with database.transaction() as session:
        rows = session.execute(select(OutboxRow).where(OutboxRow.kind == PERFORMANCE)).scalars().all()
    assert {row.status for row in rows} == {"dead"}
    error = rows[0].last_error or ""
    assert "Account has no field Forged_Offers__c" in error and "Account.Name is string (text)" in error
    assert not any(r.get("LeadBridge_Performance_Updated__c") for r in org.records("Account"))
    # the connection's lead write-back and the other mapping are untouched: fixed, it writes at once
    push(database, "home", good, now=NOW)
    assert _flush(database, good).written == 3


def test_mapping_section_errors_name_the_line_and_the_known_figures() -> None:
    text = default_mapping_path("salesforce", "Lead", "manufacturer").read_text()
    lines = len(text.splitlines())
    bad = text + "\npartner_performance:\n  fields:\n    offerz: A__c\n    won: 'x; DROP'\n    lost: A__c\n"
    with pytest.raises(MappingError) as raised:
        parse_mapping(bad, "home.yaml")
    message = str(raised.value)
    assert f"home.yaml:{lines + 4}: partner_performance.fields.offerz: unknown figure 'offerz'" in message
    assert "known: offers, accepted" in message
    assert f"home.yaml:{lines + 5}: partner_performance.fields.won: 'x; DROP' is not a field name" in message
    assert "A__c is already written by offerz" in message
    partner = default_mapping_path("salesforce", "Lead", "partner").read_text() + SECTIONS["salesforce"]
    with pytest.raises(MappingError, match="only a manufacturer"):
        parse_mapping(partner, "partner.yaml")


def test_given_no_kick_then_the_reconcile_sweep_publishes_the_step_and_it_runs_daily(
    database: Database, tmp_path: Path
) -> None:
    # the step runs on the real clock, as the scheduler does
    with Sandbox.plan(partners=0, leads=0, seed=5, services=["salesforce"]) as box:
        org = box.salesforce.org("manufacturer")
        with database.transaction() as session:
            history = script(session)
        accounts = {pid: org.create("Account", {"Name": name}) for pid, name in history.partners.items()}
        _link(database, accounts)
        config = sandbox_salesforce.org_config(
            org, box.ca_file, name="home", mapping=str(home_mapping("salesforce", tmp_path))
        )
        settings = Settings(connections={"home": config})
        ctx = JobContext(settings=settings, database=database, worker_id="sweeper", steps=step_table())
        with database.transaction() as session:
            due = [d for d in due_work(session, utcnow(), settings) if d.step == PUSH_PERFORMANCE]
        assert [d.args for d in due] == [("home",)]  # a fresh database: due at once
        followups = ctx.steps.resolve(PUSH_PERFORMANCE)(ctx, "home")
        assert followups == [Followup(FLUSH_OUTBOX, ("home",))]
        ctx.steps.resolve(FLUSH_OUTBOX)(ctx, "home")
        assert sum(1 for r in org.records("Account") if r.get("LeadBridge_Offers__c") is not None) == 3
        with database.transaction() as session:
            later = due_work(session, utcnow() + timedelta(hours=1), settings)
            next_day = due_work(session, utcnow() + timedelta(days=1, minutes=1), settings)
        assert PUSH_PERFORMANCE not in {d.step for d in later}
        assert PUSH_PERFORMANCE in {d.step for d in next_day}

        # a kick for one partner (its account changed): only that partner, the schedule untouched
        moved = next(iter(accounts))
        _link(database, {moved: org.create("Account", {"Name": "moved"})})
        assert ctx.steps.resolve(PUSH_PERFORMANCE)(ctx, "home", moved) == [Followup(FLUSH_OUTBOX, ("home",))]
        with database.transaction() as session:
            queued = session.execute(select(OutboxRow).where(OutboxRow.status == "pending")).scalars().all()
            still_later = due_work(session, utcnow() + timedelta(hours=1), settings)
        assert [row.payload["partner_id"] for row in queued] == [moved]
        assert PUSH_PERFORMANCE not in {d.step for d in still_later}


@pytest.mark.parametrize("kind", ["hubspot", "dynamics"])
def test_given_hubspot_or_dynamics_home_when_pushed_then_the_account_records_carry_the_figures(
    database: Database, tmp_path: Path, kind: str
) -> None:
    with Sandbox.plan(partners=0, leads=0, seed=9, services=[kind]) as box:
        with database.transaction() as session:
            history = script(session)
        mapping = str(home_mapping(kind, tmp_path))
        if kind == "hubspot":
            portal = box.hubspot.portal("manufacturer")
            accounts = {p: portal.create("companies", {"name": n}).id for p, n in history.partners.items()}
            config = sandbox_hubspot.portal_config(
                portal, box.hubspot.base_url("manufacturer"), box.ca_file, name="home", mapping=mapping
            )
            connector = _home(config)
            connector.install_properties()  # what `mappings check --fix` does: the company properties

            def records() -> dict[str, dict[str, Any]]:
                return {r.id: r.properties for r in portal.store("companies").live()}

            offers, revenue = "leadbridge_offers", "leadbridge_revenue_won"
        else:
            env = box.dynamics.org("manufacturer")
            accounts = {
                p: env.create("accounts", {"name": n})["accountid"] for p, n in history.partners.items()
            }
            connector = _home(sandbox_dynamics.org_config(env, box.ca_file, name="home", mapping=mapping))

            def records() -> dict[str, dict[str, Any]]:
                return {r["accountid"]: r for r in env.records("accounts")}

            offers, revenue = "new_lb_offers", "new_lb_revenuewon"
        broken = next(iter(accounts))  # linked to an account the CRM does not have: fails alone
        accounts[broken] = "99999999" if kind == "hubspot" else "0f3c9d3e-0000-4000-8000-000000000000"
        _link(database, accounts)
        push(database, "home", connector, now=NOW)
        stats = _flush(database, connector)
        assert stats.written == 2 and stats.dead == 1, stats.errors
        expected, found = _expected(database), records()
        assert accounts[broken] not in found
        for partner_id, account_id in accounts.items():
            if partner_id == broken:
                continue
            assert float(found[account_id][offers]) == expected[partner_id].offers
            assert Decimal(str(found[account_id][revenue])) == expected[partner_id].revenue
