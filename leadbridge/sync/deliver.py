"""Flushing the outbox of one target: claim, coalesce, build from current state, send, record.

Rules:
- rows are claimed in one short transaction, the write happens outside any transaction, the
  results are recorded in another — a crash in between leaves claimed rows that another worker
  takes over once stale, and re-sending is harmless because every write is an idempotent
  update/upsert of the lead's *current* state;
- a group whose write succeeded marks all its rows sent; a record the system refuses for good
  (skip/fatal) is dead-lettered at once with the reason; a transient failure counts a try;
- a whole-batch failure counts a try for every claimed row and ends this flush (the target is
  unwell; the backoff decides when to come back — a Retry-After longer than the connector's time
  budget lands here and is kept in full); a quota stop releases the rows untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session

from leadbridge.core.errors import FatalConnectorError, QuotaExhausted, RetriableError, SessionExpired
from leadbridge.core.leads import Clock
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.ports import Action, WriteItem, WriteResult
from leadbridge.sync import outbox
from leadbridge.sync.outbox import OutboxSettings

GroupKey = tuple[str, str, str]


@dataclass(frozen=True)
class Planned:
    """One write for one coalesced group: which stream, what to send."""

    group: GroupKey
    stream: str
    item: WriteItem
    refused: str | None = None  # the record cannot be built (e.g. a value the mapping cannot write)

    @classmethod
    def refusal(cls, group: GroupKey, reason: str) -> Planned:
        """A group that will not be sent: its rows are dead-lettered with ``reason``."""
        return cls(group, "", WriteItem("|".join(group), {}), refused=reason)


class Writer(Protocol):
    """Builds writes for a target from the database and records what was written."""

    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]: ...

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]: ...

    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        """Remember what each successful write put there (one call per batch)."""
        ...


@dataclass
class FlushStats:
    target: str
    rows: int = 0
    writes: int = 0
    written: int = 0
    failed: int = 0
    dead: int = 0
    stopped: str | None = None
    errors: list[str] = field(default_factory=list)
    written_leads: list[str] = field(default_factory=list)  # leads whose write succeeded


def flush(
    database: Database,
    target: str,
    writer: Writer,
    *,
    worker: str,
    clock: Clock,
    settings: OutboxSettings | None = None,
    claim_limit: int = 5000,  # rows; a partial collection only at the end of each claim
) -> FlushStats:
    """Send every due row of ``target`` (module rules)."""
    settings = settings or OutboxSettings()
    stats = FlushStats(target)
    while True:
        now = clock()
        with database.transaction() as session:
            rows = outbox.claim(
                session, target, worker=worker, now=now, limit=claim_limit, stale_after=settings.stale_after
            )
            ids = [row.id for row in rows]
            groups = outbox.coalesce(rows)
            planned = writer.build(session, groups)
        if not rows:
            return stats
        stats.rows += len(rows)
        try:
            results = _send(writer, planned)
        except QuotaExhausted as error:
            with database.transaction() as session:
                outbox.release(session, ids, worker=worker, not_before=now + timedelta(hours=1))
            stats.stopped, stats.errors = "quota", [*stats.errors, str(error)]
            return stats
        except (RetriableError, SessionExpired, FatalConnectorError) as error:
            with database.transaction() as session:
                outbox.mark_failed(
                    session, ids, str(error), worker=worker, now=clock(), settings=settings, cause=error
                )
            stats.failed += len(ids)
            stats.stopped, stats.errors = "error", [*stats.errors, str(error)]
            return stats
        _record(
            database,
            writer,
            groups,
            planned,
            results,
            worker=worker,
            clock=clock,
            settings=settings,
            stats=stats,
        )
        if len(rows) < claim_limit:
            return stats


def _send(writer: Writer, planned: list[Planned]) -> dict[GroupKey, WriteResult]:
    results: dict[GroupKey, WriteResult] = {}
    streams: dict[str, list[Planned]] = {}
    for plan in planned:
        if plan.refused is not None:
            results[plan.group] = WriteResult(plan.item.key, False, error=plan.refused, action=Action.SKIP)
        else:
            streams.setdefault(plan.stream, []).append(plan)
    for stream, plans in streams.items():
        for plan, result in zip(plans, writer.send(stream, [p.item for p in plans]), strict=True):
            results[plan.group] = result
    return results


def _record(
    database: Database,
    writer: Writer,
    groups: dict[GroupKey, list[OutboxRow]],
    planned: list[Planned],
    results: dict[GroupKey, WriteResult],
    *,
    worker: str,
    clock: Clock,
    settings: OutboxSettings,
    stats: FlushStats,
) -> None:
    now = clock()
    by_group = {plan.group: plan for plan in planned}
    with database.transaction() as session:
        succeeded = [(by_group[g], r) for g, r in results.items() if r.ok and g in by_group]
        writer.record(session, succeeded, now)
        sent: list[int] = []
        for group, rows in groups.items():
            ids = [row.id for row in rows]
            plan, result = by_group.get(group), results.get(group)
            if plan is None or result is None:  # nothing to write any more (e.g. the lead is gone)
                sent += ids
                continue
            stats.writes += 1
            if result.ok:
                sent += ids
                stats.written += 1
                stats.written_leads.append(group[0])
                continue
            permanent = result.action in (Action.SKIP, Action.FATAL)
            outbox.mark_failed(
                session,
                ids,
                result.error or "refused",
                worker=worker,
                now=now,
                settings=settings,
                permanent=permanent,
            )
            stats.failed += 1
            stats.dead += int(permanent)
            stats.errors.append(f"{group[0]}: {result.error}")
        outbox.mark_sent(session, sent, worker=worker, now=now)
