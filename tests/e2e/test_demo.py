"""``leadbridge demo``: the whole pipeline over sandbox CRMs, summarised as JSON on the last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app


@pytest.mark.slow
def test_given_a_small_demo_when_run_with_json_then_the_last_line_says_nothing_was_lost(
    tmp_path: Path,
) -> None:
    _register()
    result = CliRunner().invoke(
        app, ["demo", "--dir", str(tmp_path / "demo"), "--json", "--leads", "80", "--partner-orgs", "2"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("leads_pulled", "routed", "offered", "accepted", "won", "written_back", "lost", "api_calls"):
        assert key in summary
    assert summary["lost"] == 0, summary["lost_details"]
    assert summary["leads_pulled"] == summary["qualified_in_source"] > 0
    assert summary["written_back"] == summary["leads_pulled"] - summary["waiting_for_routing"]
    assert summary["accepted"] > 0 and summary["won"] > 0 and summary["offered"] >= summary["accepted"]
    assert summary["final_cycle_writes"] == 0 and summary["errors"] == []
    assert (
        summary["api_calls"]["salesforce_manufacturer"] > 0
        and summary["api_calls"]["salesforce_partners"] > 0
        and summary["api_calls"]["hubspot_partners"] > 0  # HubSpot partner portals beside the orgs
        and summary["api_calls"]["pipedrive_partners"] > 0  # and Pipedrive partner companies
        and summary["api_calls"]["dynamics_partners"] > 0  # and Dynamics 365 partner environments
    )
    kinds = summary["partners_by_kind"]
    assert kinds["salesforce"] == 2 and kinds["hubspot"] == 2 and kinds["pipedrive"] == 2
    assert kinds["dynamics"] == 2
    assert kinds["webhook"] == 1 and kinds["inbox"] > 10
    [hook] = summary["webhook_partners"].values()  # a signed-webhook partner endpoint
    assert hook["events"]["lead.offered"] > 0 and hook["refused"] == 0, hook


@pytest.mark.slow
def test_given_home_hubspot_then_the_manufacturer_portal_is_pulled_and_written_back_with_nothing_lost(
    tmp_path: Path,
) -> None:
    _register()
    args = ["demo", "--dir", str(tmp_path / "demo"), "--json", "--leads", "60", "--home", "hubspot"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["home"] == "HubSpot" and summary["lost"] == 0, summary["lost_details"]
    assert summary["leads_pulled"] == summary["qualified_in_source"] > 0
    assert summary["written_back"] == summary["leads_pulled"] - summary["waiting_for_routing"]
    assert summary["accepted"] > 0 and summary["final_cycle_writes"] == 0 and summary["errors"] == []
    assert summary["api_calls"]["hubspot_partners"] > 0


@pytest.mark.slow
def test_given_home_dynamics_then_the_manufacturer_environment_is_pulled_and_written_back_with_nothing_lost(
    tmp_path: Path,
) -> None:
    _register()
    args = ["demo", "--dir", str(tmp_path / "demo"), "--json", "--leads", "60", "--home", "dynamics"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["home"] == "Dynamics 365" and summary["lost"] == 0, summary["lost_details"]
    assert summary["leads_pulled"] == summary["qualified_in_source"] > 0
    assert summary["written_back"] == summary["leads_pulled"] - summary["waiting_for_routing"]
    assert summary["accepted"] > 0 and summary["final_cycle_writes"] == 0 and summary["errors"] == []
    assert summary["api_calls"]["salesforce_manufacturer"] > 0  # the home CRM's calls, whatever its kind


def test_given_an_unknown_home_then_the_demo_refuses_it_clearly(tmp_path: Path) -> None:
    _register()
    result = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "demo"), "--home", "pipedrive"])
    assert result.exit_code != 0 and "--home must be one of salesforce, hubspot" in result.output
