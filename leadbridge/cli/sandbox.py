"""``leadbridge sandbox``: run the HTTPS stand-ins for Salesforce and HubSpot, or generate seed data.

``serve --json`` prints exactly one JSON object as its first stdout line (scripts and benchmarks
parse it), then serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import csv
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from leadbridge.cli.context import Table, console, err_console, fail, print_json
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.clients import salesforce_client_from_info
from leadbridge.sandbox.registry import service_starters
from leadbridge.sandbox.salesforce.seeding import push_leads
from leadbridge.sandbox.seed import SeedLead, generate_leads

sandbox_app = typer.Typer(help="Local HTTPS stand-ins for Salesforce and HubSpot.", no_args_is_help=True)


def lead_csv_columns() -> list[str]:
    """The header of leadbridge's lead CSV import, read from the shipped example (one source of truth)."""
    text = files("leadbridge.init_files").joinpath("leads.csv").read_text(encoding="utf-8")
    return next(csv.reader(text.splitlines()))


def _services(value: str | None) -> list[str] | None:
    if value is None:
        return None
    kinds = [part.strip() for part in value.split(",") if part.strip()]
    unknown = set(kinds) - set(service_starters())
    if unknown:
        raise fail(f"unknown service(s) {sorted(unknown)}; available: {sorted(service_starters())}")
    return kinds


def _table(info: dict[str, Any]) -> Table:
    table = Table(title=f"leadbridge sandbox — CA file: {info['ca_file']}")
    for column in ("service", "org", "role", "url", "credentials"):
        table.add_column(column)
    for entry in info.get("salesforce", []):
        credentials = (
            f"user {entry['username']}\npassword {entry['password']}\n"
            f"token {entry['security_token']}\nsession {entry['session_id'][:24]}…"
        )
        table.add_row("salesforce", entry["name"], entry.get("role", ""), entry["instance_url"], credentials)
    for entry in info.get("hubspot", []):
        table.add_row(
            "hubspot", entry["name"], entry.get("role", ""), entry["base_url"], entry["access_token"]
        )
    for entry in info.get("pipedrive", []):
        credentials = (
            f"api_token {entry['api_token']}\nclient {entry['client_id']} / {entry['client_secret']}\n"
            f"refresh_token {entry['refresh_token']}"
        )
        table.add_row("pipedrive", entry["name"], entry.get("role", ""), entry["base_url"], credentials)
    for entry in info.get("dynamics", []):
        credentials = (
            f"tenant {entry['tenant_id']}\nclient id {entry['client_id']}\nsecret {entry['client_secret']}"
        )
        table.add_row("dynamics", entry["name"], entry.get("role", ""), entry["org_url"], credentials)
    return table


@sandbox_app.command("serve")
def serve(
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object as the first line")] = False,
    partners: Annotated[int, typer.Option(min=0, help="partner orgs/portals, spread over services")] = 2,
    seed: Annotated[int, typer.Option(help="data and fault seed")] = 0,
    leads: Annotated[int, typer.Option(min=0, help="leads seeded into each manufacturer org")] = 200,
    services: Annotated[
        str | None, typer.Option(help="comma-separated, e.g. 'salesforce' (default: all)")
    ] = None,
    ca_dir: Annotated[
        Path | None, typer.Option(help="directory for the CA PEM (default: a temp dir)")
    ] = None,
    info_file: Annotated[Path | None, typer.Option(help="also write the JSON object to this file")] = None,
    jwt_keys: Annotated[
        bool, typer.Option(help="write each Salesforce org's JWT private key next to the CA")
    ] = False,
) -> None:
    """Start the stand-ins, print each org's URL, credentials and the CA file, serve until interrupted."""
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    box = Sandbox.plan(partners=partners, leads=leads, seed=seed, services=_services(services), ca_dir=ca_dir)
    try:
        box.start()
        info = box.describe()
        if jwt_keys:
            _write_jwt_keys(box, info)
        if info_file is not None:
            info_file.write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if as_json:
            print_json(info)
        else:
            console.print(_table(info))
            console.print("Serving; press Ctrl+C to stop.")
        while not stop.wait(0.5):
            pass
    finally:
        box.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not as_json:
        err_console.print("sandbox stopped")


def _write_jwt_keys(box: Sandbox, info: dict[str, Any]) -> None:
    """Add ``jwt_private_key_file`` to each Salesforce entry (the org trusts that key's public half)."""
    for entry in info.get("salesforce", []):
        path = box.ca_file.parent / f"salesforce-{entry['name']}-jwt.pem"
        path.write_text(box.salesforce.org(entry["name"]).jwt_private_key_pem, encoding="utf-8")
        path.chmod(0o600)
        entry["jwt_private_key_file"] = str(path)


def _csv_row(lead: SeedLead, seed: int, columns: list[str]) -> dict[str, Any]:
    return {
        "external_id": f"SB-{seed}-{lead.number:05d}",
        **{name: getattr(lead, name) for name in columns if hasattr(lead, name)},
        "product_interests": ";".join(lead.product_interests),
        "consent_share": "yes" if lead.consent_share else "no",
        "consent_marketing": "yes" if lead.consent_marketing else "no",
    }


@sandbox_app.command("seed")
def seed_command(
    leads: Annotated[int, typer.Option(min=1, help="how many leads")] = 100,
    seed: Annotated[int, typer.Option(help="data seed (same seed, same leads)")] = 0,
    out: Annotated[Path | None, typer.Option(help="CSV file to write (default: stdout)")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON instead of CSV (a summary when --out is set)")
    ] = False,
    into: Annotated[
        Path | None,
        typer.Option(help="a running sandbox's `serve --info-file`: create the leads there instead"),
    ] = None,
    org: Annotated[
        str, typer.Option(help="with --into: the Salesforce org to create them in")
    ] = "manufacturer",
) -> None:
    """Generate realistic European leads (deterministic by seed): as lead-import CSV, or — with
    ``--into`` — created through the API of a running sandbox's Salesforce org (new leads arriving)."""
    generated = generate_leads(seed, leads, now=datetime.now(UTC))
    if into is not None:
        _push(generated, into, org, as_json=as_json)
        return
    columns = lead_csv_columns()
    rows = [_csv_row(lead, seed, columns) for lead in generated]
    if as_json and out is None:
        print_json(rows)
        return
    handle = out.open("w", encoding="utf-8", newline="") if out is not None else sys.stdout
    try:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    finally:
        if out is not None:
            handle.close()
    if out is not None:
        if as_json:
            print_json({"file": str(out), "leads": len(rows), "seed": seed})
        else:
            console.print(f"[green]{len(rows)} leads written to {out}[/]")


def _push(generated: list[SeedLead], info_file: Path, org: str, *, as_json: bool) -> None:
    info = json.loads(info_file.read_text(encoding="utf-8"))
    entry = next((e for e in info.get("salesforce", []) if e["name"] == org), None)
    if entry is None:
        names = [e["name"] for e in info.get("salesforce", [])]
        raise fail(f"no Salesforce org {org!r} in {info_file}; orgs: {names}")
    ids = push_leads(salesforce_client_from_info(entry, info["ca_file"]), generated)
    if as_json:
        print_json({"org": org, "created": len(ids), "ids": ids})
    else:
        console.print(f"[green]{len(ids)} leads created in {org} ({entry['instance_url']})[/]")


def register(app: typer.Typer) -> None:
    """Add the ``sandbox`` command group to the root app."""
    app.add_typer(sandbox_app, name="sandbox")
