"""Digests for channel managers: escalations batched into one mail per interval, and a weekly
summary of the programme.

Rules:
- escalations (``escalate`` events: SLA breaches, leads no partner could take) are not mailed one
  by one: every active admin gets one mail listing all escalations since the last one, read from
  the event log after the checkpoint ``notify``/``escalations``. It goes out once the oldest
  unsent escalation is ``GATHER`` old (a pull that escalates 30 leads in a few seconds is one
  mail) and at most once per ``ESCALATION_EVERY`` (a mail, then quiet, then the next batch);
- the weekly digest goes to every active admin once per ISO week, at the first run on or after
  Monday ``WEEKLY_HOUR`` (UTC), for the week before: the network's offers, acceptance, times to
  accept and to first contact, wins and revenue, the partners with the lowest SLA compliance and
  the campaigns whose leads partners refused most as not a lead (``core/reports``); checkpoint
  ``notify``/``weekly`` holds the week sent;
- at least once: a mail server that is away (``RetriableError``) leaves the checkpoint, so the
  next run sends the same digest; any other failure dead-letters each escalation of the batch
  (``dead_letters.py``: visible and retryable in the cockpit, one mail each) and moves on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from leadbridge.core.errors import RetriableError
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.core.reports.quality import lead_quality
from leadbridge.core.reports.scorecard import partner_scorecard
from leadbridge.core.reports.window import ReportFilter, day_start
from leadbridge.core.store.tables import CheckpointRow, LeadEventRow, LeadRow, PartnerRow
from leadbridge.core.store.web_tables import AdminUserRow
from leadbridge.notify.dead_letters import MailEvent, dead_letter
from leadbridge.notify.messages import Recipient, admin_digest_mail
from leadbridge.notify.service import Notifier

log = logging.getLogger("leadbridge.notify")

CONNECTION, ESCALATIONS, WEEKLY = "notify", "escalations", "weekly"
GATHER = timedelta(seconds=60)
ESCALATION_EVERY = timedelta(minutes=15)
WEEKLY_HOUR = 7
SHOWN = 10  # lines per list in the weekly digest


@dataclass(frozen=True)
class Escalation:
    event_id: str
    occurred_at: datetime
    lead_id: str
    reason: str
    state: str
    partner: str | None


def _checkpoint(session: Session, stream: str) -> CheckpointRow:
    row = session.get(CheckpointRow, (CONNECTION, stream))
    if row is None:
        row = CheckpointRow(
            connection=CONNECTION,
            stream=stream,
            cursor_stamp=None,
            cursor_id=None,
            state={},
            updated_at=utcnow(),
        )
        session.add(row)
    return row


def _admins(session: Session) -> list[Recipient]:
    rows = session.execute(
        select(AdminUserRow).where(AdminUserRow.active.is_(True)).order_by(AdminUserRow.email)
    )
    return [Recipient(a.email) for a in rows.scalars()]


def pending_escalations(session: Session, until: datetime, limit: int = 500) -> list[Escalation]:
    """Escalations after the checkpoint up to ``until``, oldest first."""
    row = session.get(CheckpointRow, (CONNECTION, ESCALATIONS))
    query = (
        select(LeadEventRow, LeadRow.state, PartnerRow.name)
        .join(LeadRow, LeadRow.id == LeadEventRow.lead_id)
        .outerjoin(PartnerRow, PartnerRow.id == LeadRow.partner_id)
        .where(LeadEventRow.kind == EventKind.ESCALATE.value, LeadEventRow.occurred_at <= until)
        .order_by(LeadEventRow.occurred_at, LeadEventRow.id)
        .limit(limit)
    )
    if row is not None and row.cursor_stamp and row.cursor_id:
        after = datetime.fromisoformat(row.cursor_stamp)
        query = query.where(
            or_(
                LeadEventRow.occurred_at > after,
                and_(LeadEventRow.occurred_at == after, LeadEventRow.id > row.cursor_id),
            )
        )
    found = []
    for event, state, partner in session.execute(query):
        payload = event.payload or {}
        reason = str(payload.get("reason") or payload.get("reason_code") or "escalated")
        found.append(Escalation(event.id, event.occurred_at, event.lead_id, reason, state, partner))
    return found


def send_escalations_if_due(
    notifier: Notifier, now: datetime | None = None, *, settle: timedelta = timedelta(seconds=5)
) -> int:
    """One mail per admin with the escalations gathered since the last (module rules); mails sent."""
    now = now or utcnow()
    with notifier.database.transaction() as session:
        state = _checkpoint(session, ESCALATIONS).state or {}
        last = state.get("sent_at")
        if last and datetime.fromisoformat(last) + ESCALATION_EVERY > now:
            return 0
        batch = pending_escalations(session, now - settle)
        if not batch or batch[0].occurred_at + GATHER > now:
            return 0
        admins = _admins(session)
    base = notifier.base_url
    lines = [
        f"{e.occurred_at:%Y-%m-%d %H:%M} UTC · lead {e.lead_id} ({e.state}) · {e.reason}"
        f" · partner: {e.partner or '-'}\n  {base}/cockpit/leads/{e.lead_id}"
        for e in batch
    ]
    subject = f"Escalations: {len(batch)} lead(s) need attention"
    values = {"lines": lines, "url": f"{base}/cockpit/sla"}
    mails = [admin_digest_mail(a, subject, "escalations", values) for a in admins]
    try:
        notifier.mailer.send_many(mails)
    except RetriableError as error:  # the server is away: the same digest next run
        log.warning("escalation digest not sent: %s", error)
        return 0
    except Exception as error:
        log.warning("escalation digest failed, %d escalation(s) dead-lettered: %s", len(batch), error)
        for e in batch:
            dead_letter(
                notifier.database, MailEvent(e.event_id, "escalate", e.lead_id, None, e.reason), str(error)
            )
        mails = []
    with notifier.database.transaction() as session:
        row = _checkpoint(session, ESCALATIONS)
        row.cursor_stamp, row.cursor_id = batch[-1].occurred_at.isoformat(), batch[-1].event_id
        row.state = {"sent_at": now.isoformat()}
        row.updated_at = utcnow()
    return len(mails)


def last_week(now: datetime) -> tuple[datetime, datetime]:
    """``[Monday, Monday)`` of the ISO week before ``now``'s."""
    monday = day_start(now.date() - timedelta(days=now.weekday()))
    assert monday is not None
    return monday - timedelta(days=7), monday


def weekly_figures(session: Session, since: datetime, until: datetime) -> dict[str, Any]:
    """What the weekly digest says (module rules), from the reports."""
    flt = ReportFilter(since, until)
    card = partner_scorecard(session, flt)
    rows = card.rows
    compliance = sorted(
        (r for r in rows if r.sla_compliance is not None), key=lambda r: (r.sla_compliance, r.name)
    )
    quality = sorted(
        (q for q in lead_quality(session, flt) if q.not_a_lead),
        key=lambda q: (-(q.not_a_lead_rate or 0), q.campaign or ""),
    )
    return {
        "offers": sum(r.offers for r in rows),
        "accepted": sum(r.accepted for r in rows),
        "won": sum(r.won for r in rows),
        "revenue": str(sum((r.revenue for r in rows), Decimal("0.00"))),
        "network": card.network,
        "late_partners": [(r.name, r.sla_compliance) for r in compliance[:SHOWN]],
        "refused_campaigns": [
            (q.campaign or "(none)", q.not_a_lead, q.not_a_lead_rate) for q in quality[:SHOWN]
        ],
    }


def send_weekly_if_due(notifier: Notifier, now: datetime | None = None) -> int:
    """The weekly digest for last week, once per ISO week (module rules); mails sent."""
    now = now or utcnow()
    since, until = last_week(now)
    week = f"{since.isocalendar().year}-W{since.isocalendar().week:02d}"
    with notifier.database.transaction() as session:
        row = session.get(CheckpointRow, (CONNECTION, WEEKLY))
        if (now.weekday() == 0 and now.hour < WEEKLY_HOUR) or (row is not None and row.cursor_stamp == week):
            return 0
        figures = weekly_figures(session, since, until)
        admins = _admins(session)
    subject = f"Weekly leadbridge summary {week}"
    values = {"week": week, "since": since.date(), "until": (until - timedelta(days=1)).date(), **figures}
    values["url"] = f"{notifier.base_url}/cockpit/reports/partners?since={since.date()}&until={until.date()}"
    mails = [admin_digest_mail(a, subject, "weekly", values) for a in admins]
    notifier.mailer.send_many(mails)  # a failure leaves the checkpoint: the next run sends it
    with notifier.database.transaction() as session:
        row = _checkpoint(session, WEEKLY)
        row.cursor_stamp, row.updated_at = week, utcnow()
    return len(mails)
