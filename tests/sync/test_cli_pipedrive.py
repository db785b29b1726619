"""``leadbridge connections check`` and ``connections subscribe`` for a Pipedrive partner (sandbox)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.pipedrive.company import Company

runner = CliRunner()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, Company]]:
    with Sandbox.plan(partners=1, leads=0, seed=37, services=["pipedrive"]) as box:
        company = box.pipedrive.company("partner-01")
        settings = {
            "database_url": "sqlite:///leadbridge.db",
            "public_url": "https://leads.example.com",
            "connections": {
                "pd": {"kind": "pipedrive", "partner_id": "PA-1",
                       "base_url": box.pipedrive.base_url("partner-01"), "api_token": company.api_token,
                       "ca_file": str(box.ca_file), "webhook_user": "leadbridge",
                       "webhook_password": "hook-pw-1"},
            },
        }  # fmt: skip
        (tmp_path / "leadbridge.yaml").write_text(yaml.safe_dump(settings))
        _register()
        yield tmp_path, company


def cli(project: Path, *args: str) -> Any:
    return runner.invoke(app, ["--config", str(project / "leadbridge.yaml"), *args])


def test_given_a_pipedrive_connection_then_check_and_subscribe_work_and_a_wrong_token_is_named(
    project: tuple[Path, Company],
) -> None:
    path, company = project
    ok = cli(path, "connections", "check", "--json")
    assert ok.exit_code == 0, ok.output
    [entry] = json.loads(ok.stdout)
    assert (
        entry["ok"] is True
        and entry["kind"] == "pipedrive"
        and "will create leadbridge_id" in entry["message"]
    )
    first = cli(path, "connections", "subscribe", "pd", "--json")
    again = cli(path, "connections", "subscribe", "pd", "--json")
    assert first.exit_code == again.exit_code == 0, first.output
    assert json.loads(first.stdout)["webhook_id"] == json.loads(again.stdout)["webhook_id"]
    [hook] = company.webhooks.subscriptions.values()
    assert hook["subscription_url"] == "https://leads.example.com/webhooks/pd" and hook["version"] == "2.0"
    assert (hook["http_auth_user"], hook["http_auth_password"]) == ("leadbridge", "hook-pw-1")
    config = yaml.safe_load((path / "leadbridge.yaml").read_text())
    config["connections"]["pd"]["api_token"] = "0" * 40
    (path / "leadbridge.yaml").write_text(yaml.safe_dump(config))
    bad = cli(path, "connections", "check", "pd")
    assert bad.exit_code == 1 and "credentials were refused" in bad.output and "api_token" in bad.output
