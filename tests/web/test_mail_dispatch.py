"""Mail driven by the event log: offers to inbox partners, SLA reminders and escalations, once each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.notify.dispatch import send_digest_if_due, send_due
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from leadbridge.web.accounts import create_partner_user
from tests.builders import a_partner
from tests.web.conftest import SmtpServer, World

NOW = timedelta(0)


def _notifier(world: World, smtp: SmtpServer) -> Notifier:
    return Notifier(world.database, world.settings, SmtpMailer(smtp.host, smtp.port, "leads@maker.example"))


def test_offers_reminders_and_escalations_are_mailed_once(world: World, smtp_server: SmtpServer) -> None:
    notifier = _notifier(world, smtp_server)
    assert send_due(notifier, settle=NOW) == 2  # the two offers of the world (both partners on the inbox)
    assert sorted(m["To"] for m in smtp_server.messages) == ["anna@alpha.example", "bert@beta.example"]
    assert send_due(notifier, settle=NOW) == 0  # the checkpoint moved on
    with world.database.transaction() as session:
        leads = LeadService(session)
        leads.apply(
            world.lead_b,
            EventKind.REMIND,
            actor="sla",
            idempotency_key="remind:1",
            partner_id=world.partner_b,
            offer_id=world.offer_b,
            payload={"reason": "accept-by deadline near", "offer_id": world.offer_b, "reminder": 1},
        )
        leads.apply(
            world.lead_a,
            EventKind.ESCALATE,
            actor="sla",
            idempotency_key="escalate:1",
            payload={"reason": "first contact overdue"},
        )
    assert (
        send_due(notifier, settle=NOW) == 1
    )  # the reminder; escalations go out as a digest (test_digests.py)
    subjects = [m["Subject"] for m in smtp_server.messages[2:]]
    assert len(subjects) == 1 and subjects[0].startswith("Reminder: lead offer expires")


def test_partners_with_their_own_crm_get_no_offer_mail(world: World, smtp_server: SmtpServer) -> None:
    notifier = _notifier(world, smtp_server)
    send_due(notifier, settle=NOW)
    before = len(smtp_server.messages)
    with world.database.transaction() as session:
        crm_partner = a_partner(session, name="Gamma CRM", connection="gamma_sf").id
        create_partner_user(session, crm_partner, "gina@gamma.example")
    world.offer(crm_partner)
    assert send_due(notifier, settle=NOW) == 1
    assert len(smtp_server.messages) == before


def test_events_younger_than_the_settle_window_wait(world: World, smtp_server: SmtpServer) -> None:
    assert send_due(_notifier(world, smtp_server), settle=timedelta(minutes=5)) == 0
    assert smtp_server.messages == []


def test_an_smtp_failure_keeps_the_checkpoint_before_the_failed_event(
    world: World, smtp_server: SmtpServer
) -> None:
    broken = Notifier(world.database, world.settings, SmtpMailer("127.0.0.1", 9, "x@example.com", timeout=2))
    assert send_due(broken, settle=NOW) == 0
    assert send_due(_notifier(world, smtp_server), settle=NOW) == 2


def test_the_daily_digest_goes_out_once_a_day_after_seven(world: World, smtp_server: SmtpServer) -> None:
    notifier = _notifier(world, smtp_server)
    morning = datetime(2026, 11, 23, 6, 59, tzinfo=UTC)
    assert send_digest_if_due(notifier, morning) == 0
    assert send_digest_if_due(notifier, morning.replace(hour=7)) == 2  # both partners have an open offer
    assert send_digest_if_due(notifier, morning.replace(hour=18)) == 0
    assert send_digest_if_due(notifier, morning + timedelta(days=1, hours=1)) == 2
    assert len(smtp_server.messages) == 4
