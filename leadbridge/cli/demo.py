"""``leadbridge demo``: the newcomer's first command — the whole pipeline over sandbox CRMs.

It starts the Salesforce sandbox (a manufacturer org and a few partner orgs) and, with
``--hubspot-partners`` / ``--pipedrive-partners`` / ``--dynamics-partners`` / ``--webhook-partners``,
HubSpot partner portals, Pipedrive partner companies, Dynamics 365 partner environments and
signed-webhook partner endpoints beside them, stores a few dozen
partners (the rest of them on the hosted inbox), then runs real sync cycles through the real
connectors: leads are pulled, routed, offered into partner orgs, partners claim, decline, work,
win, lose and return them, and every change is written back to the manufacturer's org. A final
cycle must find nothing left to do. The summary says what happened and how many API calls it took;
``--json`` prints it as one JSON object on the last line (with ``partners_by_kind``: how many
partners work in each kind of system).
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from leadbridge.cli.context import console, err_console, print_json
from leadbridge.connectors.registry import default_registry
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.db import engine_for
from leadbridge.demo.actors import Partners
from leadbridge.demo.hooks import summary as hooks_summary
from leadbridge.demo.performance import accounts_with_figures
from leadbridge.demo.report import summarise
from leadbridge.demo.world import HOME, DemoWorld, start_world
from leadbridge.runtime import build_runtime
from leadbridge.sync.connections import build_connectors
from leadbridge.sync.cycle import CycleReport, SyncEngine

HOMES = ("salesforce", "hubspot", "dynamics")

PARTNER_ROUNDS = 3  # partners act between cycles: claim/decline, then progress, then the stragglers


def _fresh_database(directory: Path, url: str) -> Database:
    """The demo always starts from an empty database in its directory."""
    engine_for(url).dispose()  # pooled connections would keep writing to the unlinked file
    for suffix in ("", "-wal", "-shm"):
        (directory / f"leadbridge.db{suffix}").unlink(missing_ok=True)
    database = Database(url)
    database.upgrade()
    return database


def _api_calls(cycles: list[CycleReport]) -> dict[str, int]:
    calls: Counter[str] = Counter()
    for report in cycles:
        for name, count in report.api_calls.items():
            kind = (
                "dynamics_partners"
                if name.startswith("dx")
                else "pipedrive_partners"
                if name.startswith("pd")
                else "hubspot_partners"
                if name.startswith("h")
                else "salesforce_partners"
            )
            calls["salesforce_manufacturer" if name == HOME else kind] += count
    return {"salesforce_manufacturer": calls["salesforce_manufacturer"],
            "salesforce_partners": calls["salesforce_partners"],
            "hubspot_partners": calls["hubspot_partners"],
            "pipedrive_partners": calls["pipedrive_partners"],
            "dynamics_partners": calls["dynamics_partners"], "inbox": 0}  # fmt: skip


def _prefixed(say: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    return lambda message: say(f"{prefix}: {message}")


def demo_settings(directory: Path) -> Settings:
    """The demo directory's settings; without a usable secret key (a directory made by an older
    version) the demo makes a fresh random one of its own for this run."""
    settings = default_registry().load_settings(directory / "leadbridge.yaml")
    if settings.secret_key_problem() is not None:
        settings = settings.model_copy(update={"secret_key": SecretStr(secrets.token_urlsafe(48))})
    return settings


def run_demo(
    directory: Path,
    *,
    leads: int,
    partner_orgs: int,
    seed: int,
    say: Any,
    hubspot_partners: int = 0,
    home: str = "salesforce",
    pipedrive_partners: int = 0,
    dynamics_partners: int = 0,
    webhook_partners: int = 0,
) -> tuple[dict[str, Any], DemoWorld]:
    """Run the demo in ``directory``; returns the summary and the (still running) world."""
    from leadbridge.cli.init import init

    started = time.monotonic()
    if not (directory / "leadbridge.yaml").exists():
        quiet, console.quiet = console.quiet, True  # init's "next steps" are not the demo's
        try:
            init(directory, force=False)
        finally:
            console.quiet = quiet
    settings = demo_settings(directory)
    database = _fresh_database(directory, settings.sqlalchemy_url)
    say(
        f"starting the sandbox: 1 manufacturer "
        f"{ {'hubspot': 'HubSpot portal', 'dynamics': 'Dynamics 365 environment'}.get(home, 'org') } "
        f"with {leads} leads, {partner_orgs} partner orgs, "
        f"{hubspot_partners} partner HubSpot portals, {pipedrive_partners} partner Pipedrive companies, "
        f"{dynamics_partners} partner Dynamics 365 environments, {webhook_partners} webhook partner(s)"
    )
    world = start_world(
        database,
        settings,
        leads=leads,
        partner_orgs=partner_orgs,
        seed=seed,
        hubspot_partners=hubspot_partners,
        home=home,
        pipedrive_partners=pipedrive_partners,
        dynamics_partners=dynamics_partners,
        webhook_partners=webhook_partners,
    )
    try:
        # The world's settings name the sandbox orgs: its runtime's database queues their write-backs.
        database = build_runtime(world.settings).db
        engine = SyncEngine(database, world.settings, build_connectors(world.settings), worker="demo")
        partners = Partners(world, database, seed)
        cycles: list[CycleReport] = []
        actions: Counter[str] = Counter()
        for number in range(PARTNER_ROUNDS + 1):
            cycles.append(engine.run(progress=_prefixed(say, f"cycle {number + 1}")))
            if number < PARTNER_ROUNDS:
                say(f"partners act (round {number + 1})")
                actions += partners.act()
        say("writing partner performance to the manufacturer's accounts")
        performance = engine.push_performance()
        cycles.append(performance)
        idle = engine.run(progress=_prefixed(say, "final cycle"))
        cycles.append(idle)
        summary = summarise(world, database)
        summary["partner_actions"] = dict(sorted(actions.items()))
        summary["api_calls"] = _api_calls(cycles)  # "salesforce_manufacturer": the home CRM's, either kind
        summary["home"] = {"hubspot": "HubSpot", "dynamics": "Dynamics 365"}.get(home, "Salesforce")
        summary["cycles"] = len(cycles)
        summary["final_cycle_writes"] = sum(f.written for f in [*idle.delivered, *idle.written_back])
        summary["errors"] = [error for report in cycles for error in [*report.errors, *report.stopped]]
        summary["webhook_partners"] = hooks_summary(world.hook_inboxes)
        summary["partners_by_kind"] = world.partners_by_kind()
        summary["performance_accounts"] = accounts_with_figures(world.box, home)
        summary["seconds"] = round(time.monotonic() - started, 2)
        summary["directory"] = str(directory.resolve())
        return summary, world
    except BaseException:
        world.stop()
        raise


def _print(summary: dict[str, Any]) -> None:
    calls = summary["api_calls"]
    console.print(f"[bold green]demo finished[/] in {summary['seconds']} s ({summary['cycles']} sync cycles)")
    console.print(
        f"leads: {summary['leads_pulled']} pulled of {summary['qualified_in_source']} qualified in the "
        f"manufacturer's {summary['home']} ({summary['leads_in_source']} leads there), "
        f"{summary['quarantined']} quarantined"
    )
    console.print(
        f"routing: {summary['routed']} routed, {summary['offered']} offers, {summary['accepted']} accepted, "
        f"{summary['declined']} declined, {summary['returned']} returned, "
        f"{summary['states'].get('direct', 0)} to direct sales"
    )
    console.print(
        f"outcomes: {summary['won']} won, {summary['deals_lost']} lost, {summary['working']} in progress; "
        f"{summary['written_back']} leads written back; {summary['conflicts']} conflicts resolved "
        "(e.g. a partner claiming a lead another partner took first)"
    )
    console.print(
        f"API calls: manufacturer {calls['salesforce_manufacturer']}, partner orgs "
        f"{calls['salesforce_partners']}, partner HubSpot portals {calls['hubspot_partners']}, "
        f"partner Pipedrive companies {calls['pipedrive_partners']}, "
        f"partner Dynamics environments {calls['dynamics_partners']}; "
        f"last cycle wrote {summary['final_cycle_writes']} record(s)"
    )
    kinds = ", ".join(f"{count} {kind}" for kind, count in summary["partners_by_kind"].items())
    console.print(f"partners by kind: {kinds}")
    console.print(
        f"partner performance written to {summary['performance_accounts']} account(s) in the home CRM"
    )
    colour = "green" if summary["lost"] == 0 else "red"
    console.print(f"[{colour}]leads lost on the way: {summary['lost']}[/]")
    for detail in summary["lost_details"]:
        err_console.print(f"  {detail}")
    for error in summary["errors"]:
        err_console.print(f"[yellow]attention:[/] {error}")


def demo(
    directory: Annotated[Path, typer.Option("--dir", help="where to create the demo project")] = Path(
        "demo-dir"
    ),
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON on the last line")
    ] = False,
    serve: Annotated[bool, typer.Option("--serve", help="keep the sandbox and the cockpit running")] = False,
    leads: Annotated[int, typer.Option(help="leads in the manufacturer's sandbox org")] = 300,
    partner_orgs: Annotated[int, typer.Option(help="partners with their own Salesforce org")] = 3,
    seed: Annotated[int, typer.Option(help="seed for data and partner behaviour")] = 7,
    hubspot_partners: Annotated[int, typer.Option(help="partners with their own HubSpot portal")] = 2,
    home: Annotated[
        str, typer.Option(help="the manufacturer's CRM: salesforce, hubspot or dynamics")
    ] = "salesforce",
    pipedrive_partners: Annotated[int, typer.Option(help="partners with their own Pipedrive company")] = 2,
    dynamics_partners: Annotated[
        int, typer.Option(help="partners with their own Dynamics 365 environment")
    ] = 2,
    webhook_partners: Annotated[
        int, typer.Option(help="partners behind a signed-webhook endpoint (kind: webhook)")
    ] = 1,
) -> None:
    """Run the whole pipeline over sandbox CRMs and summarise (see the module docstring)."""
    if home not in HOMES:
        raise typer.BadParameter(f"--home must be one of {', '.join(HOMES)}, not {home!r}")
    say = (lambda _message: None) if as_json else (lambda message: err_console.print(f"[dim]{message}[/]"))
    summary, world = run_demo(
        directory,
        leads=leads,
        partner_orgs=partner_orgs,
        seed=seed,
        say=say,
        hubspot_partners=hubspot_partners,
        home=home,
        pipedrive_partners=pipedrive_partners,
        dynamics_partners=dynamics_partners,
        webhook_partners=webhook_partners,
    )
    try:
        if as_json:
            print_json(summary)
        else:
            _print(summary)
        if serve:
            _serve(world)
    finally:
        world.stop()
    if summary["lost"]:
        raise typer.Exit(1)


DEMO_ADMIN = ("admin@demo.example", "leadbridge-demo")


def _serve(world: DemoWorld) -> None:
    """Keep the cockpit (and the sandbox) running until interrupted; a demo admin signs in."""
    try:
        import uvicorn

        from leadbridge.web.accounts import authenticate_admin, create_admin
        from leadbridge.web.app import create_app
    except ImportError:
        err_console.print("the web cockpit is not part of this build; nothing to serve")
        return
    rt = build_runtime(world.settings)
    database = rt.db
    email, password = DEMO_ADMIN
    with database.transaction() as session:
        if authenticate_admin(session, email, password) is None:
            create_admin(session, email, password, name="Demo admin")
    host, port = "127.0.0.1", 8000
    console.print(
        f"cockpit on http://{host}:{port}/cockpit/login — sign in as {email} / {password}; Ctrl+C stops"
    )
    link = _partner_sign_in_link(database, f"http://{host}:{port}")
    if link:
        console.print(f"a partner's inbox (single-use sign-in link, 15 minutes): {link}", soft_wrap=True)
    uvicorn.run(create_app(rt), host=host, port=port, log_level="warning", access_log=False)


def _partner_sign_in_link(database: Database, base_url: str) -> str | None:
    """A sign-in link for the inbox partner holding the most offers, so a newcomer can click through."""
    from sqlalchemy import func, select

    from leadbridge.core.store.tables import OfferRow, PartnerRow
    from leadbridge.web.accounts import create_partner_user
    from leadbridge.web.sessions import issue_magic_link

    with database.transaction() as session:
        busiest = session.execute(
            select(PartnerRow.id)
            .join(OfferRow, OfferRow.partner_id == PartnerRow.id)
            .where(PartnerRow.connection == "inbox")
            .group_by(PartnerRow.id)
            .order_by(func.count(OfferRow.id).desc(), PartnerRow.id)
            .limit(1)
        ).scalar_one_or_none()
        if busiest is None:
            return None
        user = create_partner_user(session, busiest, "partner@demo.example", name="Demo partner")
        return f"{base_url}/inbox/signin/{issue_magic_link(session, user)}"


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
