"""``leadbridge run`` serves the web app; ``leadbridge users`` and ``leadbridge api-keys`` manage
who may use it (admins, partner users with sign-in links, API keys for partner systems)."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.cli.context import Table, console, fail, print_json, runtime, serving_settings, settings
from leadbridge.cli.context import database as _database
from leadbridge.core.errors import NotFound
from leadbridge.core.model import utcnow
from leadbridge.core.roles import parse_regions, parse_role
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.db import is_sqlite
from leadbridge.core.store.tables import PartnerRow
from leadbridge.core.store.web_tables import AdminUserRow, ApiKeyRow, PartnerUserRow
from leadbridge.web.accounts import (
    create_admin,
    create_api_key,
    create_partner_user,
    partner_user_by_email,
    revoke_partner_user,
    set_admin_role,
)
from leadbridge.web.sessions import issue_magic_link

users_app = typer.Typer(help="Admins of the cockpit and users of the partner inbox.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys for partner systems and admin tools.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
RoleOption = Annotated[str, typer.Option(help="admin, channel_manager (needs --region) or read_only")]
WORKER_HEALTHCHECK_S = 120
RegionOption = Annotated[
    list[str] | None, typer.Option("--region", help="a channel manager's region: DE, DE-8 (repeatable)")
]


def run(
    host: Annotated[str, typer.Option(help="interface to bind (loopback by default)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    background: Annotated[
        bool, typer.Option("--background/--no-background", help="run the scheduler (and mail)")
    ] = True,
    workers: Annotated[int, typer.Option(min=1, help="server processes (more than 1 needs PostgreSQL)")] = 1,
) -> None:
    """Serve the partner inbox, the cockpit and the REST API (with the embedded scheduler and mail).

    With ``--workers N`` N server processes share the port, each building its own app; the
    scheduler then runs once, in its own process (embedded mode) or in Celery (scaled mode)."""
    import uvicorn

    from leadbridge.jobs.background import background_starter
    from leadbridge.notify.dispatch import mail_starter
    from leadbridge.web.app import create_app

    config = serving_settings("run")
    from leadbridge.ops.logs import configure_logging

    configure_logging(config.log_level)  # JSON lines, personal data masked, tokens redacted
    database = _database()
    console.print(f"leadbridge on http://{host}:{port}/ — cockpit /cockpit, inbox /inbox, API /api/docs")
    if workers > 1:
        _serve_workers(config, database, host, port, workers, background=background)
        return
    rt = runtime()
    starters = [background_starter(rt), mail_starter(rt.settings)] if background else []
    app = create_app(rt, background=starters)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def _serve_workers(
    config: Settings, database: Database, host: str, port: int, workers: int, *, background: bool
) -> None:
    """``run --workers N`` (rules in ``web/serve.py``)."""
    import multiprocessing

    import uvicorn

    from leadbridge.web import serve

    if is_sqlite(database.url):
        raise fail(
            "--workers needs PostgreSQL: SQLite admits one writer at a time, so one process "
            "(leadbridge run) is the embedded setup; set database_url to postgresql://…"
        )
    database.engine.dispose()  # nothing pooled in this process outlives into the servers
    config_path = str(config.config_path) if config.config_path else None
    if config_path:
        os.environ[serve.CONFIG_ENV] = config_path
    scheduler = None
    if background and not config.broker_url:
        scheduler = multiprocessing.get_context("spawn").Process(
            target=serve.scheduler_main, args=(config_path,), name="leadbridge-scheduler"
        )
        scheduler.start()
    console.print(
        f"{workers} server processes; scheduler "
        + ("in Celery (scaled mode)" if config.broker_url else "in its own process" if scheduler else "off")
    )
    try:
        uvicorn.run(
            "leadbridge.web.serve:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
            # A spawned server imports the whole app before it answers the supervisor's ping; on a
            # busy host that takes longer than uvicorn's 5 s default, and the supervisor then kills
            # and respawns it forever (measured: a restart loop at load average 10).
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
        )
    finally:
        if scheduler is not None:
            scheduler.terminate()
            scheduler.join(timeout=20)


def _partner_id(session: Session, ref: str) -> str:
    row = session.execute(
        select(PartnerRow).where((PartnerRow.id == ref) | (PartnerRow.external_id == ref))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"no partner with id or external id {ref!r}")
    return row.id


@users_app.command("add-admin")
def add_admin(
    email: Annotated[str, typer.Argument(help="the admin's e-mail address (login name)")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="at least 10 characters"),
    ],
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    role: RoleOption = "admin",
    region: RegionOption = None,
) -> None:
    """Create a cockpit admin with a scrypt-hashed password and a role (admin, channel_manager with
    --region, read_only)."""
    try:
        scope = parse_role(role), parse_regions(region or [])
        with _database().transaction() as session:
            row = create_admin(session, email, password, name, role=scope[0], regions=scope[1])
    except ValueError as error:
        raise fail(str(error)) from None
    console.print(f"admin {row.email} created ({_scope_text(row)})")


@users_app.command("set-role")
def set_role(
    email: Annotated[str, typer.Argument(help="the admin's e-mail address")],
    role: RoleOption = "admin",
    region: RegionOption = None,
) -> None:
    """Change an admin's role and regions; it applies to the admin's next request."""
    try:
        with _database().transaction() as session:
            row = set_admin_role(session, email, parse_role(role), parse_regions(region or []))
    except ValueError as error:
        raise fail(str(error)) from None
    console.print(f"admin {row.email}: {_scope_text(row)}")


def _scope_text(row: AdminUserRow | ApiKeyRow) -> str:
    return row.role + (f" for {row.regions}" if row.regions else "")


@users_app.command("add-partner-user")
def add_partner_user(
    partner: Annotated[str, typer.Argument(help="partner id or external id")],
    email: Annotated[str, typer.Argument(help="the person's e-mail address")],
    language: Annotated[str, typer.Option(help="en or de")] = "en",
    name: Annotated[str | None, typer.Option(help="display name")] = None,
    as_json: JsonOption = False,
) -> None:
    """Give a person access to one partner's inbox and print a sign-in link (15 minutes, once)."""
    config = settings()
    with _database().transaction() as session:
        user = create_partner_user(
            session, _partner_id(session, partner), email, name=name, language=language
        )
        link = f"{config.public_url.rstrip('/')}/inbox/signin/{issue_magic_link(session, user)}"
        result = {
            "user_id": user.id,
            "partner_id": user.partner_id,
            "email": user.email,
            "sign_in_link": link,
        }
    if as_json:
        print_json(result)
    else:
        console.print(f"partner user {result['email']} ({result['partner_id']}); sign-in link:\n{link}")


@users_app.command("sign-in-link")
def sign_in_link(email: Annotated[str, typer.Argument(help="a partner user's e-mail address")]) -> None:
    """Print a fresh single-use sign-in link for a partner user (valid 15 minutes)."""
    config = settings()
    with _database().transaction() as session:
        user = partner_user_by_email(session, email)
        if user is None or user.revoked_at is not None:
            raise fail(f"no active partner user {email}")
        token = issue_magic_link(session, user)
    typer.echo(f"{config.public_url.rstrip('/')}/inbox/signin/{token}")


@users_app.command("revoke")
def revoke(email: Annotated[str, typer.Argument(help="a partner user's e-mail address")]) -> None:
    """Revoke a partner user: sessions end now, and sign-in links stop working."""
    with _database().transaction() as session:
        row = revoke_partner_user(session, email)
    console.print(f"revoked {row.email}")


@users_app.command("list")
def list_users(as_json: JsonOption = False) -> None:
    """List admins and partner users."""
    with _database().transaction() as session:
        admins = [
            {
                "kind": "admin",
                "email": a.email,
                "partner_id": None,
                "language": None,
                "active": a.active,
                "role": _scope_text(a),
            }
            for a in session.execute(select(AdminUserRow).order_by(AdminUserRow.email)).scalars()
        ]
        users = [
            {
                "kind": "partner",
                "email": u.email,
                "partner_id": u.partner_id,
                "language": u.language,
                "active": u.revoked_at is None,
            }
            for u in session.execute(select(PartnerUserRow).order_by(PartnerUserRow.email)).scalars()
        ]
    rows = admins + users
    if as_json:
        print_json(rows)
        return
    table = Table("kind", "email", "partner", "language", "active")
    for row in rows:
        table.add_row(
            str(row["kind"]),
            str(row["email"]),
            str(row["partner_id"] or ""),
            str(row["language"] or ""),
            "yes" if row["active"] else "no",
        )
    console.print(table)


@keys_app.command("create")
def create_key(
    name: Annotated[str, typer.Argument(help="what the key is for, e.g. 'alpha-crm'")],
    partner: Annotated[
        str | None, typer.Option(help="partner id or external id (omit for an admin key)")
    ] = None,
    role: RoleOption = "admin",
    region: RegionOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create an API key and print it once (only its hash is stored); an admin key has a role."""
    try:
        with _database().transaction() as session:
            partner_id = _partner_id(session, partner) if partner else None
            row, raw = create_api_key(
                session, name, partner_id, role=parse_role(role), regions=parse_regions(region or [])
            )
            result = {"id": row.id, "name": row.name, "partner_id": partner_id, "key": raw, "role": row.role}
    except ValueError as error:
        raise fail(str(error)) from None
    if as_json:
        print_json(result)
    else:
        console.print(f"key {row.id} for {partner_id or 'admin tools'} (shown once):\n{raw}")


@keys_app.command("list")
def list_keys(as_json: JsonOption = False) -> None:
    """List API keys (never the keys themselves)."""
    with _database().transaction() as session:
        rows = [
            {
                "id": k.id,
                "name": k.name,
                "partner_id": k.partner_id,
                "created_at": k.created_at.isoformat(),
                "revoked": k.revoked_at is not None,
            }
            for k in session.execute(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).scalars()
        ]
    if as_json:
        print_json(rows)
        return
    table = Table("id", "name", "partner", "created", "revoked")
    for r in rows:
        table.add_row(
            str(r["id"]),
            str(r["name"]),
            str(r["partner_id"] or "(admin)"),
            str(r["created_at"]),
            "yes" if r["revoked"] else "",
        )
    console.print(table)


@keys_app.command("revoke")
def revoke_key(key_id: Annotated[str, typer.Argument(help="the key's id (K-…)")]) -> None:
    """Revoke an API key at once."""
    with _database().transaction() as session:
        row = session.get(ApiKeyRow, key_id)
        if row is None:
            raise fail(f"no API key {key_id}")
        row.revoked_at = utcnow()
    console.print(f"revoked {key_id}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.add_typer(users_app, name="users")
    app.add_typer(keys_app, name="api-keys")
