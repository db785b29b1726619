"""``leadbridge mappings``: validate mapping files, check them against the live CRM, preview a record;
and ``leadbridge leads quarantine``: records that could not be mapped, and re-running them."""

from __future__ import annotations

from collections.abc import Mapping as MappingOf
from pathlib import Path
from typing import Annotated, Any

import typer

from leadbridge.cli.context import Table, console, print_json, settings, styled
from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import ConfigError, LeadbridgeError
from leadbridge.core.settings import CrmConnection, Settings
from leadbridge.mappings.apply import Plan, RecordError
from leadbridge.mappings.check import Finding, check_mapping
from leadbridge.mappings.fix import field_specs, manual_steps, missing_fields
from leadbridge.mappings.loader import MappingError, default_mapping_paths, load_mapping, mapping_for
from leadbridge.mappings.performance import as_findings, check_performance, performance_specs
from leadbridge.mappings.schema import Mapping
from leadbridge.ports import Capability, Connector

mappings_app = typer.Typer(help="Validate, check and preview field mappings.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def _configured_mapping(config: Settings, name: str) -> tuple[Connector, Mapping]:
    """The connection's connector and the mapping it uses (only kinds that describe their objects
    have one); nothing is called remotely yet."""
    registry = default_registry()
    connection = config.connection(name)
    kind = registry.kind(connection.kind)
    connector = registry.connector(config, name) if kind.can(Capability.DESCRIBE) else None
    if connector is None or not kind.default_object or not isinstance(connection, CrmConnection):
        raise ConfigError(f"connection {name} is a {connection.kind} connection: mappings are for CRMs")
    path = config.resolve(connection.mapping)
    return connector, mapping_for(connection, path, default_object=kind.default_object)


@mappings_app.command("validate")
def validate_command(
    files: Annotated[
        list[Path] | None, typer.Argument(help="mapping files (default: every configured and shipped one)")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Load each mapping and list every problem as file:line: message; exit 1 if any is broken."""
    if not files:
        config = settings()
        mapped = [c for c in config.connections.values() if isinstance(c, CrmConnection)]
        configured = [config.resolve(c.mapping) for c in mapped if c.mapping]
        files = [*default_mapping_paths(), *(path for path in configured if path is not None)]
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            mapping = load_mapping(path)
            results.append({"file": str(path), "ok": True, "fields": len(mapping.fields), "problems": []})
        except MappingError as error:
            problems = [{"line": line, "message": message} for line, message in error.problems]
            results.append({"file": str(path), "ok": False, "problems": problems})
        except ConfigError as error:
            results.append({"file": str(path), "ok": False, "problems": [{"line": 0, "message": str(error)}]})
    if as_json:
        print_json(results)
    else:
        for result in results:
            if result["ok"]:
                console.print(f"[green]ok[/]   {result['file']} ({result['fields']} fields)", soft_wrap=True)
            for problem in result["problems"]:
                console.print(
                    f"[red]{result['file']}:{problem['line']}:[/] {problem['message']}", highlight=False
                )
    if not all(result["ok"] for result in results):
        raise typer.Exit(1)


def _findings_table(findings: list[Finding]) -> Table:
    table = Table("severity", "kind", "field", "line", "problem")
    for item in findings:
        colour = "red" if item.severity == "error" else "yellow"
        table.add_row(
            styled(f"[{colour}]{item.severity}[/]"), item.kind, item.field, str(item.line or ""), item.message
        )
    return table


def _apply_fix(connector: Connector, mapping: Mapping, findings: list[Finding]) -> dict[str, Any]:
    """Create missing fields where the CRM's API can (HubSpot); elsewhere say what an admin must add."""
    fixed = connector.create_fields(mapping.object, field_specs(findings))
    steps = [*fixed.instructions, *manual_steps(mapping.object, findings)]
    return {"created": list(fixed.created), "instructions": steps}


def _performance_findings(
    connector: Connector, mapping: Mapping, fix: bool, fixed: dict[str, Any]
) -> list[Finding]:
    """The ``partner_performance`` section against its account object (``--fix`` creates what the
    CRM's API can, like the lead fields)."""
    section = mapping.performance
    if section is None:
        return []
    found = check_performance(section, connector.describe(section.object))
    if fix and any(f.kind == "missing" for f in found):
        made = connector.create_fields(section.object, performance_specs(found))
        fixed["created"] = [*fixed["created"], *made.created]
        fixed["instructions"] = [*fixed["instructions"], *made.instructions]
        if made.created:
            found = check_performance(section, connector.describe(section.object))
    return as_findings(found)


@mappings_app.command("check")
def check_command(
    connection: Annotated[str, typer.Argument(help="connection name from leadbridge.yaml")],
    fix: Annotated[
        bool, typer.Option("--fix", help="create missing HubSpot properties; print Salesforce admin steps")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare the connection's mapping with the live object: missing fields, type mismatches and
    picklist values the value maps do not cover. Exit 1 while errors remain."""
    connector, mapping = _configured_mapping(settings(), connection)
    findings = check_mapping(mapping, connector.describe(mapping.object))
    fixed: dict[str, Any] = {"created": [], "instructions": []}
    if fix and findings:
        fixed = _apply_fix(connector, mapping, findings)
        if fixed["created"]:
            findings = check_mapping(mapping, connector.describe(mapping.object))
    findings += _performance_findings(connector, mapping, fix, fixed)
    errors = [item for item in findings if item.severity == "error"]
    if as_json:
        print_json(
            {
                "connection": connection,
                "mapping": mapping.source,
                "object": mapping.object,
                "findings": [item.__dict__ for item in findings],
                **fixed,
            }
        )
    else:
        console.print(f"{connection}: {mapping.source} against {mapping.system} {mapping.object}")
        if findings:
            console.print(_findings_table(findings))
        for name in fixed["created"]:
            console.print(f"[green]created[/] {mapping.system} field {mapping.object}.{name}")
        for step in fixed["instructions"]:
            console.print(f"[yellow]admin:[/] {step}", highlight=False)
        if not findings:
            console.print("[green]the mapping matches the live object[/]")
        elif errors and not fix and missing_fields(errors):
            console.print(
                "run with --fix to create missing fields (HubSpot) or list what to add (Salesforce)"
            )
    if errors:
        raise typer.Exit(1)


@mappings_app.command("preview")
def preview_command(
    connection: Annotated[str, typer.Argument(help="connection name from leadbridge.yaml")],
    external_id: Annotated[str, typer.Option("--id", help="the record's id in the CRM")],
    as_json: JsonOption = False,
) -> None:
    """Fetch one record and show it next to the canonical lead the mapping makes of it."""
    connector, mapping = _configured_mapping(settings(), connection)
    record = connector.fetch_record(mapping.object, external_id, mapping.remote_fields())
    plan = Plan(mapping)
    flat: MappingOf[str, Any] = {}
    mapped, problem = None, None
    try:
        flat = plan.to_canonical(record)
        mapped = plan.build(flat, plan.external_id(record), connection)
    except RecordError as error:
        problem = str(error)
    rows = [
        {
            "remote": e.inbound.field,
            "value": record.get(e.inbound.field or ""),
            "canonical": e.canonical,
            "mapped": flat.get(e.canonical or ""),
        }
        for e in mapping.fields
        if e.inbound
    ]
    if as_json:
        lead = mapped.lead.model_dump(mode="json") if mapped else None
        status = mapped.status.model_dump(mode="json") if mapped and mapped.status else None
        print_json({"record": record, "fields": rows, "lead": lead, "status": status, "error": problem})
    else:
        table = Table("remote field", "remote value", "canonical", "mapped value")
        for row in rows:
            table.add_row(str(row["remote"]), repr(row["value"]), str(row["canonical"]), repr(row["mapped"]))
        console.print(table)
        console.print(f"[red]cannot map:[/] {problem}" if problem else "[green]maps cleanly[/]")
    if problem:
        raise typer.Exit(1)


def quarantine_command(
    connection: Annotated[str | None, typer.Option(help="only this connection")] = None,
    rerun_: Annotated[
        bool,
        typer.Option(
            "--rerun", help="map the records again with the current mapping and take in those that map"
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """List records that could not be mapped, with the reason; ``--rerun`` after fixing the mapping."""
    from leadbridge.cli.partners import open_database
    from leadbridge.core.intake import take_in
    from leadbridge.mappings.quarantine import SqlQuarantine, rerun

    config = settings()
    recovered: dict[str, list[str]] = {}
    with open_database().transaction() as session:
        store = SqlQuarantine(session)
        if rerun_:
            names = [connection] if connection else sorted({item.connection for item in store.open()})
            for name in names:
                _, mapping = _configured_mapping(config, name)
                records, _ = rerun(Plan(mapping), store, name)
                for mapped in records:
                    take_in(session, mapped.lead, actor="quarantine-rerun")
                recovered[name] = [m.lead.external_id or "" for m in records]
        items = store.open(connection)
    if as_json:
        rows = [item.__dict__ for item in items]  # print_json writes datetimes as text
        print_json({"open": rows, "recovered": recovered} if rerun_ else rows)
        return
    for name, ids in recovered.items():
        console.print(f"{name}: {len(ids)} record(s) now map and were taken in")
    table = Table("connection", "external id", "attempts", "last tried", "reason")
    for item in items:
        tried = f"{item.updated_at:%Y-%m-%d %H:%M}"
        table.add_row(item.connection, item.external_id, str(item.attempts), tried, item.reason)
    console.print(table if items else "no records in quarantine")


def register(app: typer.Typer) -> None:
    app.add_typer(mappings_app, name="mappings")
    try:
        from leadbridge.cli.leads import leads_app
    except ImportError as error:  # the leads group is part of leadbridge; say loudly if it moved
        raise LeadbridgeError(f"cannot add `leads quarantine`: {error}") from error
    leads_app.command("quarantine")(quarantine_command)
