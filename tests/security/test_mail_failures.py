"""One bad record never blocks mail: header values are sanitised, a refused message is dead-lettered
(visible and retryable in the cockpit) and the others go out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import OutboxRow
from leadbridge.notify.dead_letters import MAIL_TARGET
from leadbridge.notify.dispatch import resend_retried, send_due
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.messages import header_value
from leadbridge.notify.service import Notifier
from leadbridge.sync import reconcile
from leadbridge.web.accounts import create_partner_user
from tests.builders import a_partner
from tests.web.conftest import World, _free_port, csrf_from

NOW = timedelta(0)


class PickyInbox:
    """A real SMTP server's handler that refuses some recipients for good (550)."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refused: set[str] = set()

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refused:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def picky() -> Iterator[tuple[PickyInbox, int]]:
    handler, port = PickyInbox(), _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_header_values_lose_every_line_break() -> None:
    assert header_value("Solar\r\nBcc: victim@example.com") == "Solar Bcc: victim@example.com"
    assert "\n" not in header_value("a\u2028b\x00c\n\rd") and "\r" not in header_value("x\ry")


def test_given_crlf_in_a_lead_field_then_its_offer_mail_goes_out_with_a_clean_subject(
    world: World, picky: tuple[PickyInbox, int]
) -> None:
    inbox, port = picky
    notifier = Notifier(world.database, world.settings, SmtpMailer("127.0.0.1", port, "leads@maker.example"))
    send_due(notifier, settle=NOW)
    before = len(inbox.messages)
    world.offer(world.partner_a, product_interests=["heat_pumps\r\nBcc: spy@evil.example"])
    assert send_due(notifier, settle=NOW) == 1
    sent = inbox.messages[before:]
    assert len(sent) == 1
    assert "heat_pumps Bcc: spy@evil.example" in sent[0]["Subject"]
    assert sent[0]["Bcc"] is None


def test_given_a_refused_recipient_then_its_mail_is_dead_lettered_and_the_others_still_go(
    world: World, picky: tuple[PickyInbox, int]
) -> None:
    inbox, port = picky
    notifier = Notifier(world.database, world.settings, SmtpMailer("127.0.0.1", port, "leads@maker.example"))
    send_due(notifier, settle=NOW)  # the world's own two offers
    with world.database.transaction() as session:
        gamma = a_partner(session, name="Gamma Haus").id
        create_partner_user(session, gamma, "gone@gamma.example")
    inbox.refused.add("gone@gamma.example")
    world.offer(gamma)
    world.offer(world.partner_b)
    before = len(inbox.messages)
    assert send_due(notifier, settle=NOW) == 2
    assert [m["To"] for m in inbox.messages[before:]] == ["bert@beta.example"]
    assert send_due(notifier, settle=NOW) == 0  # the checkpoint moved past the refused one

    with world.database.transaction() as session:
        dead = session.execute(select(OutboxRow).where(OutboxRow.target == MAIL_TARGET)).scalar_one()
        assert dead.status == "dead" and "550" in (dead.last_error or "")
        dead_id = dead.id
    admin = world.admin_client()
    page = admin.get("/cockpit/outbox")
    assert page.status_code == 200 and re.search(rf"\b{dead_id}\b", page.text)
    token = csrf_from(admin, "/cockpit/outbox")
    assert admin.post("/cockpit/outbox/retry", data={"ids": dead_id, "csrf_token": token}).status_code == 303
    # the outbox flusher never picks up mail rows: the mail step sends them
    with world.database.transaction() as session:
        due = reconcile.due_work(session, utcnow(), world.settings)
    assert all(d.args != (MAIL_TARGET,) for d in due)
    inbox.refused.clear()
    assert resend_retried(notifier) == 1
    assert inbox.messages[-1]["To"] == "gone@gamma.example"
    with world.database.transaction() as session:
        assert session.get(OutboxRow, dead_id).status == "sent"  # type: ignore[union-attr]
