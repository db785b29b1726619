"""``leadbridge leads erase`` / ``export-subject`` (a data subject's rights) and ``leadbridge audit``."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from leadbridge.cli.context import Table, console, fail, print_json, settings
from leadbridge.cli.partners import JsonOption, open_database
from leadbridge.core.errors import NotFound
from leadbridge.core.model import utcnow
from leadbridge.core.privacy import audit
from leadbridge.core.router import policy_from_settings
from leadbridge.sync.erasure import erase
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.retention import purge_expired
from leadbridge.sync.subject import export_subject


def erase_command(
    lead_id: Annotated[str, typer.Argument(help="leadbridge lead id (L-…)")],
    reason: Annotated[
        str | None, typer.Option(help="why (kept on the timeline; write no personal data here)")
    ] = None,
    vacuum: Annotated[bool, typer.Option("--vacuum", help="also rebuild the SQLite file (slow)")] = False,
    as_json: JsonOption = False,
) -> None:
    """Erase a lead's personal data here and queue its erasure at every CRM that received it (Art. 17)."""
    config = settings()
    database = open_database()
    rules = policy_from_settings(config).privacy.erasure
    try:
        report = erase(
            database,
            lead_id,
            actor="cli",
            reason=reason,
            rules=rules,
            targets=SyncTargets.from_settings(config),
            now=utcnow(),
            vacuum=vacuum,
        )
    except NotFound as error:
        raise fail(str(error)) from None
    if as_json:
        print_json(report.as_dict())
        return
    if report.already:
        console.print(f"{lead_id} was already erased on {report.erased_at:%Y-%m-%d %H:%M} UTC")
    else:
        console.print(f"[bold]{lead_id}[/] erased; {sum(report.scrubbed.values())} stored rows cleaned")
    for recipient in report.recipients:
        where = (
            f"{recipient.target} record {recipient.remote_id}" if recipient.remote_id else recipient.target
        )
        console.print(
            f"  {recipient.how:<9} {where}"
            + (f" (partner {recipient.partner_id})" if recipient.partner_id else "")
        )
    if not report.already:
        console.print("the outbox tells each CRM; `leadbridge leads show` lists who confirmed and when")


def export_subject_command(
    email: Annotated[str, typer.Argument(help="the person's e-mail address")],
) -> None:
    """Print, as JSON, everything leadbridge holds about one person (Art. 15)."""
    with open_database().transaction() as session:
        found = export_subject(session, email)
        detail = {"leads": len(found["leads"])}
        audit.record(
            session,
            actor="cli",
            channel="cli",
            action="export_subject",
            at=utcnow(),
            subject=email,
            detail=detail,
        )
    print_json(found)


audit_app = typer.Typer(help="The audit log: admin actions and who viewed which identified lead.")


@audit_app.command("list")
def audit_list(
    lead: Annotated[str | None, typer.Option(help="only facts about this lead id")] = None,
    subject: Annotated[
        str | None, typer.Option(help="only facts about this e-mail (matched by pseudonym)")
    ] = None,
    limit: Annotated[int, typer.Option(help="at most this many, newest first")] = 500,
    as_csv: Annotated[bool, typer.Option("--csv", help="print CSV (for export)")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show the audit log, newest first."""
    with open_database().transaction() as session:
        rows = audit.entries(session, lead_id=lead, subject=subject, limit=limit)
    if as_csv:
        sys.stdout.write(audit.as_csv(rows))
        return
    if as_json:
        print_json([{name: getattr(row, name) for name in audit.FIELDS} for row in rows])
        return
    table = Table("when (UTC)", "who", "where", "what", "lead", "details")
    for row in rows:
        details = ", ".join(f"{k}={v}" for k, v in row.detail.items())
        table.add_row(
            f"{row.at:%Y-%m-%d %H:%M:%S}", row.actor, row.channel, row.action, row.lead_id or "", details
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


def purge_expired_command(
    limit: Annotated[int, typer.Option(help="at most this many leads in this pass")] = 1000,
    as_json: JsonOption = False,
) -> None:
    """Erase the leads past their state's retention (policy ``privacy.retention_days``)."""
    config = settings()
    privacy = policy_from_settings(config).privacy
    reports = purge_expired(
        open_database(), privacy, SyncTargets.from_settings(config), utcnow(), limit=limit
    )
    if as_json:
        print_json({"erased": [r.lead_id for r in reports]})
        return
    if not privacy.retention_days:
        console.print("no retention configured (policy privacy.retention_days)")
    console.print(f"{len(reports)} lead(s) past their retention erased")


def add_commands(app: typer.Typer) -> None:
    app.command("erase")(erase_command)
    app.command("export-subject")(export_subject_command)
    app.command("purge-expired")(purge_expired_command)
