"""Which lead events become e-mail, read from the event log with a checkpoint.

Rules:
- ``offer`` events for partners on the hosted inbox (connection ``inbox``) mail the offer to the
  partner's users (partners with a CRM see it there); ``remind`` events mail a reminder about their
  offer (the SLA engine writes it, see ``core/sla_tick.py``); ``escalate`` events are not mailed
  one by one but batched into one digest per interval (``digests.py``);
  a ``return`` that leadbridge made (a reclaim after an SLA breach, reason ``sla_…``) mails the
  partner's users that the lead was taken back and why; an erasure notice to an inbox partner is
  not read from the log but queued as a pending mail row when the lead is erased (``dead_letters.queue``),
  and sent by ``resend_retried`` with the admin-retried ones;
- the log is read in keyset order ``(occurred_at, event id)`` after the checkpoint
  (``checkpoints`` row ``notify``/``mail``), and only up to ``settle`` ago, so an event whose
  transaction commits a moment after a later-stamped one is not skipped;
- mail is sent before the checkpoint moves: at least once. An unreachable or busy server
  (``RetriableError``) stops the batch with the checkpoint after the last event handled, so the next
  run retries from there; any other failure belongs to that one message (a bad record, a refused
  recipient): it is dead-lettered (``dead_letters.py``, visible and retryable in the cockpit) and
  the checkpoint moves on, so one bad record never holds back the mail of the others;
- the daily digest goes out once per UTC day, at the first run after ``DIGEST_HOUR`` (checkpoint
  ``notify``/``digest`` holds the last day sent).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select

from leadbridge.core.errors import RetriableError
from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import CheckpointRow, LeadEventRow, PartnerRow
from leadbridge.notify.dead_letters import MailEvent, claim_retried, dead_letter, mark_sent
from leadbridge.notify.digests import send_escalations_if_due, send_weekly_if_due
from leadbridge.notify.service import Notifier

log = logging.getLogger("leadbridge.notify")

CONNECTION, STREAM, DIGEST_STREAM = "notify", "mail", "digest"
DIGEST_HOUR = 7
MAIL_KINDS = ("offer", "remind", "return")  # escalations: digests.py


def send_due(notifier: Notifier, *, settle: timedelta = timedelta(seconds=5), limit: int = 500) -> int:
    """Mail what the events since the checkpoint call for; returns how many events were handled."""
    database = notifier.database
    until = utcnow() - settle
    with database.transaction() as session:
        checkpoint = session.get(CheckpointRow, (CONNECTION, STREAM))
        query = (
            select(LeadEventRow, PartnerRow.connection)
            .outerjoin(PartnerRow, PartnerRow.id == LeadEventRow.partner_id)
            .where(LeadEventRow.kind.in_(MAIL_KINDS), LeadEventRow.occurred_at <= until)
            .order_by(LeadEventRow.occurred_at, LeadEventRow.id)
            .limit(limit)
        )
        if checkpoint is not None and checkpoint.cursor_stamp and checkpoint.cursor_id:
            after = datetime.fromisoformat(checkpoint.cursor_stamp)
            query = query.where(
                or_(
                    LeadEventRow.occurred_at > after,
                    and_(LeadEventRow.occurred_at == after, LeadEventRow.id > checkpoint.cursor_id),
                )
            )
        work = [
            (row.occurred_at, MailEvent(row.id, row.kind, row.lead_id, row.offer_id, _reason(row)), conn)
            for row, conn in session.execute(query).all()
        ]
    done: tuple[datetime, str] | None = None
    handled = 0
    for occurred_at, event, connection in work:
        try:
            _mail(notifier, event, connection)
        except RetriableError as error:  # the server is away, not this message: try again later
            log.warning("mail stopped after %d event(s): %s", handled, error)
            break
        except Exception as error:  # this message only: dead-letter it and go on with the others
            log.warning("mail for event %s dead-lettered: %s", event.event_id, error)
            dead_letter(database, event, f"{type(error).__name__}: {error}")
        done = (occurred_at, event.event_id)
        handled += 1
    if done is not None:
        _save(database, done[0].isoformat(), done[1])
    return handled


def resend_retried(notifier: Notifier, *, worker: str = "mail") -> int:
    """Send the mail of dead letters an admin retried; returns how many went out."""
    sent = 0
    for row_id, event in claim_retried(notifier.database, worker):
        try:
            _mail(notifier, event, "inbox")
        except Exception as error:  # dead again, with the new reason; the others still go
            dead_letter(notifier.database, event, f"{type(error).__name__}: {error}")
            continue
        mark_sent(notifier.database, row_id)
        sent += 1
    return sent


def _reason(row: LeadEventRow) -> str:
    payload = row.payload or {}
    return str(payload.get("reason") or payload.get("reason_code") or "")


def _mail(notifier: Notifier, event: MailEvent, connection: str | None) -> None:
    """Send what one event calls for (module rules)."""
    if event.kind == "offer" and event.offer_id and connection == "inbox":
        notifier.offer(event.offer_id)
    elif event.kind == "remind" and event.offer_id:
        notifier.offer(event.offer_id, reminder=True)
    elif event.kind == "escalate" and event.lead_id:  # a dead-lettered escalation digest, retried
        notifier.escalation(event.lead_id, event.reason or "SLA breach")
    elif event.kind == "return" and event.offer_id and event.reason.startswith("sla_"):
        notifier.reclaimed(event.offer_id, event.reason)
    elif event.kind == "erasure_notice" and event.lead_id and event.partner_id:
        notifier.erasure_notice(event.lead_id, event.partner_id)


def send_digest_if_due(notifier: Notifier, now: datetime | None = None) -> int:
    """Send the daily digest if today's has not gone out and it is past ``DIGEST_HOUR`` (UTC)."""
    now = now or utcnow()
    today = now.date().isoformat()
    with notifier.database.transaction() as session:
        row = session.get(CheckpointRow, (CONNECTION, DIGEST_STREAM))
        if now.hour < DIGEST_HOUR or (row is not None and row.cursor_stamp == today):
            return 0
    sent = notifier.daily_digest()
    _save(notifier.database, today, "", stream=DIGEST_STREAM)
    return sent


def _save(database: Database, stamp: str, event_id: str, *, stream: str = STREAM) -> None:
    with database.transaction() as session:
        row = session.get(CheckpointRow, (CONNECTION, stream))
        if row is None:
            session.add(
                CheckpointRow(
                    connection=CONNECTION,
                    stream=stream,
                    cursor_stamp=stamp,
                    cursor_id=event_id,
                    state={},
                    updated_at=utcnow(),
                )
            )
        else:
            row.cursor_stamp, row.cursor_id, row.updated_at = stamp, event_id, utcnow()


def mail_starter(settings: Settings, *, every: float = 15.0) -> Callable[[Any], Callable[[], None]]:
    """A ``create_app`` background starter: mail due events every ``every`` seconds in a thread."""

    def start(app: Any) -> Callable[[], None]:
        notifier = Notifier(app.state.database, settings, app.state.mailer, materials=_materials(settings))
        stop = threading.Event()

        def loop() -> None:
            while not stop.wait(every):
                try:
                    resend_retried(notifier)
                    send_due(notifier)
                    send_digest_if_due(notifier)
                    send_escalations_if_due(notifier)
                    send_weekly_if_due(notifier)
                except Exception:  # a bad run must not kill the loop; it is logged with its traceback
                    log.exception("mail run failed")

        thread = threading.Thread(target=loop, name="leadbridge-mail", daemon=True)
        thread.start()

        def halt() -> None:
            stop.set()
            thread.join(timeout=5)

        return halt

    return start


def _materials(settings: Settings) -> dict[str, Any]:
    """The policy's sales material per product line."""
    from leadbridge.core.router import policy_from_settings

    return dict(policy_from_settings(settings).materials)
