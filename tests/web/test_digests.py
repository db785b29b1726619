"""Digests for channel managers over real SMTP (aiosmtpd): escalations batched into one mail per
interval, and the weekly summary once per week."""

from __future__ import annotations

from datetime import timedelta

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.notify.digests import ESCALATION_EVERY, GATHER, send_escalations_if_due, send_weekly_if_due
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from tests.web.conftest import SmtpServer, World
from tests.web.test_notify import body_of

SETTLE = timedelta(seconds=5)


def _notifier(world: World, smtp: SmtpServer) -> Notifier:
    return Notifier(world.database, world.settings, SmtpMailer(smtp.host, smtp.port, "leads@maker.example"))


def _escalate(world: World, count: int, tag: str) -> None:
    with world.database.transaction() as session:
        leads = LeadService(session)
        for n in range(count):
            lead = world.lead_a if n % 2 == 0 else world.lead_b
            leads.apply(
                lead,
                EventKind.ESCALATE,
                actor="router",
                idempotency_key=f"escalate:{tag}:{n}",
                payload={"reason": "no partner found" if n % 2 else "first contact overdue"},
            )


def test_thirty_escalations_make_one_mail_and_the_next_batch_waits_for_the_interval(
    world: World, smtp_server: SmtpServer
) -> None:
    notifier = _notifier(world, smtp_server)
    _escalate(world, 30, "pull")
    start = utcnow()
    assert send_escalations_if_due(notifier, start + SETTLE) == 0  # still gathering
    assert smtp_server.messages == []
    assert send_escalations_if_due(notifier, start + GATHER + SETTLE) == 1  # one admin, one mail
    (mail,) = smtp_server.messages
    assert mail["To"] == "admin@maker.example"
    assert mail["Subject"] == "Escalations: 30 lead(s) need attention"
    body = body_of(mail)
    assert (
        body.count(f"/cockpit/leads/{world.lead_a}") == 15
        and body.count(f"/cockpit/leads/{world.lead_b}") == 15
    )
    assert "no partner found" in body and "first contact overdue" in body
    _escalate(world, 3, "later")
    later = utcnow() + GATHER + SETTLE
    assert send_escalations_if_due(notifier, later) == 0  # within the interval after the last mail
    assert send_escalations_if_due(notifier, start + GATHER + SETTLE + ESCALATION_EVERY + GATHER) == 1
    assert smtp_server.messages[-1]["Subject"] == "Escalations: 3 lead(s) need attention"
    assert send_escalations_if_due(notifier, start + 3 * ESCALATION_EVERY) == 0  # nothing new


def test_a_mail_server_that_is_away_keeps_the_escalations_for_the_next_run(
    world: World, smtp_server: SmtpServer
) -> None:
    _escalate(world, 4, "down")
    due = utcnow() + GATHER + SETTLE
    broken = Notifier(world.database, world.settings, SmtpMailer("127.0.0.1", 9, "x@example.com", timeout=2))
    assert send_escalations_if_due(broken, due) == 0
    assert send_escalations_if_due(_notifier(world, smtp_server), due) == 1
    assert smtp_server.messages[0]["Subject"] == "Escalations: 4 lead(s) need attention"


def test_the_weekly_digest_goes_out_once_per_week_on_monday_morning(
    world: World, smtp_server: SmtpServer
) -> None:
    notifier = _notifier(world, smtp_server)
    today = utcnow()
    monday = (today + timedelta(days=7 - today.weekday())).replace(hour=6, minute=59, second=0, microsecond=0)
    assert send_weekly_if_due(notifier, monday) == 0  # before 07:00 on Monday
    assert send_weekly_if_due(notifier, monday + timedelta(minutes=1)) == 1
    assert send_weekly_if_due(notifier, monday + timedelta(hours=5)) == 0  # this week's went out
    (mail,) = smtp_server.messages
    assert mail["To"] == "admin@maker.example" and mail["Subject"].startswith("Weekly leadbridge summary")
    body = body_of(mail)
    assert "Offers: 2 " in body  # the world's two offers were made this (the reported) week
    assert "/cockpit/reports/partners?since=" in body
    assert send_weekly_if_due(notifier, monday + timedelta(days=7, minutes=1)) == 1  # the next week
