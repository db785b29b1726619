"""``leadbridge sandbox serve`` / ``seed``: the JSON first line, real clients against it, clean stop."""

from __future__ import annotations

import csv
import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import typer
from simple_salesforce import Salesforce
from typer.testing import CliRunner, Result

from leadbridge.cli import sandbox as sandbox_cli
from leadbridge.connectors.csvfile import validate_leads
from leadbridge.sandbox.clients import sandbox_session


class _Runner:
    """CliRunner bound to an app holding only the sandbox command group (no global registration)."""

    def __init__(self) -> None:
        self.app = typer.Typer()
        sandbox_cli.register(self.app)
        self.runner = CliRunner()

    def invoke(self, args: list[str]) -> Result:
        return self.runner.invoke(self.app, args)


def test_given_serve_json_when_started_then_first_line_is_the_connection_object_and_sigterm_stops(tmp_path):
    command = [
        sys.executable,
        "-m",
        "leadbridge.cli.main",
        "sandbox",
        "serve",
        "--json",
        "--partners",
        "2",
        "--leads",
        "15",
        "--seed",
        "3",
        "--services",
        "salesforce",
        "--ca-dir",
        str(tmp_path),
        "--info-file",
        str(tmp_path / "info.json"),
        "--jwt-keys",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert set(info) >= {"ca_file", "salesforce", "hubspot"} and info["hubspot"] == []
        assert Path(info["ca_file"]).parent == tmp_path
        assert [org["name"] for org in info["salesforce"]] == ["manufacturer", "partner-01", "partner-02"]
        for org in info["salesforce"]:
            assert set(org) >= {
                "name",
                "instance_url",
                "username",
                "password",
                "security_token",
                "session_id",
            }
        manufacturer = info["salesforce"][0]
        session = sandbox_session(manufacturer["instance_url"], info["ca_file"])
        sf = Salesforce(
            username=manufacturer["username"],
            password=manufacturer["password"],
            security_token=manufacturer["security_token"],
            session=session,
        )
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 15
        jwt = Salesforce(
            username=manufacturer["username"],
            consumer_key=manufacturer["consumer_key"],
            privatekey_file=manufacturer["jwt_private_key_file"],
            session=session,
        )
        assert jwt.query("SELECT COUNT() FROM User")["totalSize"] > 1
        # New leads arriving: `sandbox seed --into` creates them through the running org's API.
        info_file = str(tmp_path / "info.json")
        pushed = _Runner().invoke(["sandbox", "seed", "--into", info_file, "--leads", "30", "--json"])
        assert pushed.exit_code == 0, pushed.output
        assert json.loads(pushed.stdout)["created"] == 30
        assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 45
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


def test_given_seed_command_when_run_twice_with_one_seed_then_same_importable_csv(tmp_path):
    runner = _Runner()
    first = runner.invoke(["sandbox", "seed", "--leads", "25", "--seed", "9"])
    second = runner.invoke(["sandbox", "seed", "--leads", "25", "--seed", "9"])
    assert first.exit_code == 0, first.output
    rows = list(csv.DictReader(io.StringIO(first.stdout)))
    assert len(rows) == 25 and rows[0]["external_id"] == "SB-9-00001"
    assert {row["stage"] for row in rows} <= {"lead", "mql", "sql"}
    assert rows == list(csv.DictReader(io.StringIO(second.stdout)))
    out = tmp_path / "leads.csv"
    summary = runner.invoke(["sandbox", "seed", "--leads", "300", "--out", str(out), "--json"])
    assert json.loads(summary.stdout) == {"file": str(out), "leads": 300, "seed": 0}
    report = validate_leads(out)  # the generated file passes leadbridge's own lead import
    assert report.errors == [] and len(report.valid) == 300
