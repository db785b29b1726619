"""The sweeper: re-publish work the database says is due, so no lost message or crash loses work.

Rules (run every few seconds by beat / the embedded scheduler):
- every outbox target with a row that is due (``pending`` and ``next_attempt_at`` reached) or whose
  claim is older than ``CLAIM_LEASE`` (its worker died or hung) gets a ``flush_outbox(target)``;
- if any lead is still ``qualified`` ``ROUTE_GRACE`` after its last change (its after-commit kick
  was lost with a crashed process), routing runs (``route_lead(ROUTE_ALL)`` takes every waiting lead);
- the sweeper only reads and publishes; it never sends or changes a row itself. Claiming stays
  with the outbox's claim function, so "who sends a row" is decided in exactly one place.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import LeadRow, OutboxRow
from leadbridge.jobs.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD, Followup, JobContext
from leadbridge.notify.dead_letters import MAIL_TARGET

# A claim older than this belongs to a dead or hung worker and may be taken over. Longer than a
# flush of one batch can take (bounded by the connectors' retry budget), well under 120 s.
CLAIM_LEASE = timedelta(seconds=60)
ROUTE_GRACE = timedelta(seconds=5)


def due_work(ctx: JobContext, *, now: datetime | None = None) -> list[Followup]:
    """What is due per the module rules, without publishing it."""
    now = now or utcnow()
    with ctx.database.transaction() as session:
        targets = session.execute(
            select(OutboxRow.target)
            .where(
                OutboxRow.target != MAIL_TARGET,  # retried mail dead letters: the mail step sends them
                or_(
                    and_(OutboxRow.status == "pending", OutboxRow.next_attempt_at <= now),
                    and_(OutboxRow.status == "claimed", OutboxRow.claimed_at < now - CLAIM_LEASE),
                ),
            )
            .distinct()
        ).scalars()
        work = [Followup(FLUSH_OUTBOX, (target,)) for target in sorted(targets)]
        stranded = session.execute(
            select(LeadRow.id)
            .where(LeadRow.state == LeadState.QUALIFIED.value, LeadRow.updated_at < now - ROUTE_GRACE)
            .limit(1)
        ).first()
        if stranded is not None:
            work.append(Followup(ROUTE_LEAD, (ROUTE_ALL,)))
    return work


def sweep(ctx: JobContext) -> list[Followup]:
    """The ``sweep`` step: return the due work; the runner publishes it after this returns."""
    return due_work(ctx)
