"""Partner performance written back to each partner's account record in the manufacturer's CRM.

Rules:
- *what*: per partner with a ``home_account_id``, the figures of the reports' partner scorecard
  (``core.reports.scorecard.partner_scorecard``, its public entry point) over the last
  ``window_days`` — the figures the mapping's ``partner_performance`` section names
  (``mappings/performance.py``), as ``figures_of`` turns a scorecard row into them; a partner with
  no activity in the window has zero counts and empty rates;
- *when*: level-triggered. The home connection's ``performance:<connection>`` timer makes the
  ``push_performance`` step due (the reconcile loop publishes it, ``sync/reconcile.py``); the step
  moves the timer on by ``every_hours`` before it computes, so a crash is retried one interval
  later. ``leadbridge partners performance push`` runs the same computation at once, and linking a
  partner to its account in the cockpit kicks the step for that partner alone (``kick_partner``,
  the schedule untouched) — kicks only make it sooner, never are the only way;
- *idempotent*: a partner's figures are queued only when their digest (account, field mapping and
  figures, not the computation time) differs from what was last queued for that connection; the
  ``performance_pushes`` row keeps digest, figures, the outbox row and when a write landed;
- *how*: one ``partner_performance`` outbox row per partner and change, sent by the home target's
  flush (retries, backoff and dead letters as every outbox row). When several rows of one partner
  wait, only the newest is written; the older ones are settled by it;
- *checked*: before the first write of a flush the section is compared with the account object's
  describe; a field that does not exist, is read-only or holds another kind of value dead-letters
  every performance row of that flush with the reason, and nothing else (lead write-backs in the
  same flush go on). One account the CRM refuses fails alone.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import LeadbridgeError, QuotaExhausted, RetriableError, SessionExpired
from leadbridge.core.partner import Partner
from leadbridge.core.reports.scorecard import ScorecardRow, partner_scorecard
from leadbridge.core.reports.window import ReportFilter
from leadbridge.core.settings import CrmConnection, Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow, PartnerRow
from leadbridge.mappings.performance import FIGURES, check_performance
from leadbridge.ports import Action, Capability, WriteItem, WriteResult, parse_stamp
from leadbridge.ports.accounts import PerformanceSection
from leadbridge.ports.connector import AccountWriter
from leadbridge.ports.remote import DATETIME
from leadbridge.sync import outbox, timers
from leadbridge.sync.deliver import GroupKey, Planned, Writer
from leadbridge.sync.dispatch import dispatch_after_commit
from leadbridge.sync.steps import PUSH_PERFORMANCE
from leadbridge.sync.tables import PerformancePushRow

log = logging.getLogger(__name__)

PERFORMANCE = "partner_performance"  # the outbox kind
ACCOUNTS_STREAM = "partner_accounts"  # the stream name performance writes travel under in a flush
NO_SECTION_S = 3600.0  # a home connection without a section is looked at again hourly


def performance_timer(connection: str) -> str:
    return f"performance:{connection}"


# -- figures ------------------------------------------------------------------------------------
def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100.0, 2)


def _two(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def figures_of(row: ScorecardRow | None, *, window_days: int, now: datetime) -> dict[str, Any]:
    """Every figure (``mappings.performance.FIGURES``) of one scorecard row, as JSON values: counts
    whole, rates in % and hours/ratings with two places, revenue a decimal string, time ISO."""
    r = row or ScorecardRow("", "")
    return {
        "offers": r.offers,
        "accepted": r.accepted,
        "declined": r.declined,
        "expired": r.expired,
        "won": r.won,
        "lost": r.lost,
        "returned": r.returned,
        "acceptance_rate": _percent(r.acceptance_rate),
        "conversion": _percent(r.conversion),
        "win_rate": _percent(r.win_rate),
        "sla_compliance": _percent(r.sla_compliance),
        "median_accept_hours": _two(r.median_accept_hours),
        "p90_accept_hours": _two(r.p90_accept_hours),
        "median_contact_hours": _two(r.median_contact_hours),
        "revenue_won": str(r.revenue),
        "average_rating": _two(r.average_rating),
        "window_days": window_days,
        "updated_at": now.isoformat(),
    }


def typed(figure: str, value: Any) -> Any:
    """A stored (JSON) figure as the typed value a connector writes: revenue a ``Decimal``, the
    computation time a ``datetime``."""
    if value is None:
        return None
    if figure == "revenue_won":
        return Decimal(str(value))
    if FIGURES[figure][0] == DATETIME:
        return parse_stamp(str(value))
    return value


def remote_fields(section: PerformanceSection, figures: dict[str, Any]) -> dict[str, Any]:
    """The account fields one partner's figures fill, per the section."""
    return {remote: typed(figure, figures.get(figure)) for figure, remote in section.fields}


def digest_of(account_id: str, section: PerformanceSection, figures: dict[str, Any]) -> str:
    """What decides "changed": the account, the field mapping and the figures it writes (not the time)."""
    written = {figure: figures.get(figure) for figure, _ in section.fields if figure != "updated_at"}
    text = json.dumps([account_id, list(section.fields), written], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# -- queueing -----------------------------------------------------------------------------------
@dataclass
class QueueSummary:
    """What one pass over a connection's partners did."""

    target: str
    partners: int = 0  # partners with an account id looked at
    queued: list[str] = field(default_factory=list)  # partner ids whose figures changed
    unchanged: int = 0


def partners_with_accounts(session: Session, partner_ids: Sequence[str] | None = None) -> list[Partner]:
    """Partners that name their account in the home CRM (``home_account_id``), by name."""
    query = select(PartnerRow.data).order_by(PartnerRow.name, PartnerRow.id)
    if partner_ids:
        query = query.where(PartnerRow.id.in_(list(partner_ids)))
    partners = (Partner.model_validate(data) for data in session.execute(query).scalars())
    return [p for p in partners if p.home_account_id]


def queue_changed(
    session: Session,
    target: str,
    section: PerformanceSection,
    *,
    now: datetime,
    partner_ids: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> QueueSummary:
    """Compute the figures of every partner with an account (or ``partner_ids``) and queue an
    outbox row for each whose figures changed since last queued (module rules)."""
    summary = QueueSummary(target)
    partners = partners_with_accounts(session, partner_ids)
    if not partners:
        return summary
    card = partner_scorecard(
        session, ReportFilter(since=now - timedelta(days=section.window_days), until=now)
    )
    rows = {row.partner_id: row for row in card.rows}
    known = {
        row.partner_id: row
        for row in session.execute(
            select(PerformancePushRow).where(
                PerformancePushRow.target == target,
                PerformancePushRow.partner_id.in_([p.id for p in partners]),
            )
        ).scalars()
    }
    for partner in partners:
        summary.partners += 1
        account_id = str(partner.home_account_id)
        figures = figures_of(rows.get(partner.id), window_days=section.window_days, now=now)
        digest = digest_of(account_id, section, figures)
        state = known.get(partner.id)
        if state is not None and state.digest == digest:
            summary.unchanged += 1
        else:
            key = f"perf:{target}:{partner.id}:{digest[:16]}:{now.isoformat()}"
            payload = {"partner_id": partner.id, "account_id": account_id, "figures": figures}
            outbox.enqueue(
                session,
                target=target,
                kind=PERFORMANCE,
                lead_id=None,
                idempotency_key=key,
                payload=payload,
                now=now,
            )
            queued_id = session.execute(select(OutboxRow.id).where(OutboxRow.idempotency_key == key)).scalar()
            if state is None:
                state = PerformancePushRow(partner_id=partner.id, target=target, written_at=None)
                session.add(state)
            state.account_id, state.digest, state.figures = account_id, digest, figures
            state.outbox_id, state.queued_at = queued_id, now
            summary.queued.append(partner.id)
        if progress is not None:
            progress(1)
    return summary


def push(
    database: Database,
    target: str,
    connector: Any,
    *,
    now: datetime,
    partner_ids: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> QueueSummary | None:
    """One ``push_performance`` run for the home connection ``target``: move its timer on, then queue
    what changed. None when the connection writes no figures (no section, or a kind that cannot)."""
    section = connector.performance if isinstance(connector, AccountWriter) else None
    with database.transaction() as session:
        every_s = section.every_s if section is not None else NO_SECTION_S
        if partner_ids is None:  # a run for some partners only is a kick: the schedule stays
            timers.start(session, performance_timer(target), now=now, every_s=every_s)
    if section is None:
        return None
    with database.transaction() as session:
        summary = queue_changed(session, target, section, now=now, partner_ids=partner_ids, progress=progress)
        if partner_ids is None:
            timers.succeeded(session, performance_timer(target), now=now)
    return summary


# -- writing (the flush) ------------------------------------------------------------------------
class PerformanceWriter:
    """Builds and sends the ``partner_performance`` rows of a home target (module rules)."""

    def __init__(self, connector: AccountWriter) -> None:
        self.connector = connector
        self.section = connector.performance
        self._unfit: str | bool | None = False  # False: not checked yet; None: fits; text: why not

    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]:
        current = {
            (row.partner_id): row.outbox_id
            for row in session.execute(
                select(PerformancePushRow).where(PerformancePushRow.target == self.connector_name)
            ).scalars()
        }
        planned: list[Planned] = []
        for group, rows in groups.items():
            row = rows[-1]
            payload = row.payload
            partner_id = str(payload.get("partner_id"))
            if self.section is None:
                planned.append(
                    Planned.refusal(group, "the mapping has no partner_performance section any more")
                )
                continue
            if current.get(partner_id) not in (None, row.id):
                continue  # a newer row of this partner is queued: it settles this one (no plan = sent)
            fields = remote_fields(self.section, dict(payload.get("figures") or {}))
            item = WriteItem("|".join(group), fields, str(payload.get("account_id")))
            planned.append(Planned(group, ACCOUNTS_STREAM, item))
        return planned

    @property
    def connector_name(self) -> str:
        return str(getattr(self.connector, "name", ""))

    def unfit(self) -> str | None:
        """Why the section does not fit the account object (None: it does); asked once per writer
        (a describe that fails is asked again next time)."""
        if self._unfit is False:
            section = self.section
            if section is None:
                self._unfit = "the mapping has no partner_performance section"
            else:
                found = check_performance(section, self.connector.describe(section.object))
                problems = "; ".join(f.message for f in found)
                self._unfit = (
                    f"partner_performance does not fit {section.object}: {problems}" if found else None
                )
        return self._unfit if isinstance(self._unfit, str) else None

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """The items written, or each failed with the reason — a describe or call failure fails these
        items only (their rows back off or die), never the lead write-backs of the same flush."""
        try:
            problem = self.unfit()
            if problem is None:
                return self.connector.write_accounts(items)
            action = Action.SKIP
        except QuotaExhausted:
            raise  # the whole target stops; every claimed row is released untouched
        except (RetriableError, SessionExpired) as error:
            problem, action = f"account write failed: {error}", Action.RETRY
        except LeadbridgeError as error:
            problem, action = f"account write refused: {error}", Action.FATAL
        log.warning("%s: %s", self.connector_name, problem)
        return [
            WriteResult(item.key, False, item.external_id, error=problem, action=action) for item in items
        ]

    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        partner_ids = [p.group for p, _ in written]
        ids = [int(group[0].removeprefix("#")) for group in partner_ids if group[0].startswith("#")]
        if not ids:
            return
        sent = session.execute(select(OutboxRow.payload).where(OutboxRow.id.in_(ids))).scalars()
        partners = [str(payload.get("partner_id")) for payload in sent]
        for state in session.execute(
            select(PerformancePushRow).where(
                PerformancePushRow.target == self.connector_name, PerformancePushRow.partner_id.in_(partners)
            )
        ).scalars():
            state.written_at = now


class WithPerformance:
    """A home target's writer with the ``partner_performance`` rows split off to their own writer."""

    def __init__(self, home: Writer, performance: PerformanceWriter) -> None:
        self.home = home
        self.performance = performance

    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]:
        mine = {g: rows for g, rows in groups.items() if g[1] == PERFORMANCE}
        rest = {g: rows for g, rows in groups.items() if g[1] != PERFORMANCE}
        return [
            *(self.home.build(session, rest) if rest else []),
            *(self.performance.build(session, mine) if mine else []),
        ]

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        if stream == ACCOUNTS_STREAM:
            return self.performance.send(stream, items)
        return self.home.send(stream, items)

    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        self.home.record(session, [(p, r) for p, r in written if p.stream != ACCOUNTS_STREAM], now)
        self.performance.record(session, [(p, r) for p, r in written if p.stream == ACCOUNTS_STREAM], now)


def with_performance(home: Writer, connector: Any) -> Writer:
    """``home`` extended with performance writes when the connector writes accounts."""
    if isinstance(connector, AccountWriter):
        return WithPerformance(home, PerformanceWriter(connector))
    return home


# -- what the cockpit shows ---------------------------------------------------------------------
@dataclass(frozen=True)
class PushStatus:
    """One partner's performance write-back to one home connection, as the cockpit shows it."""

    target: str
    account_id: str
    queued_at: datetime
    written_at: datetime | None
    status: str  # the last queued row's outbox status
    error: str | None


def push_status(session: Session, partner_id: str) -> PushStatus | None:
    """The newest write-back state of ``partner_id`` (None: its figures were never queued)."""
    state = session.execute(
        select(PerformancePushRow)
        .where(PerformancePushRow.partner_id == partner_id)
        .order_by(PerformancePushRow.queued_at.desc())
        .limit(1)
    ).scalar()
    if state is None:
        return None
    row = session.get(OutboxRow, state.outbox_id) if state.outbox_id is not None else None
    status = row.status if row is not None else "sent"
    error = row.last_error if row is not None and row.status != outbox.OutboxStatus.SENT.value else None
    return PushStatus(state.target, state.account_id, state.queued_at, state.written_at, status, error)


def account_homes(settings: Settings) -> list[str]:
    """The home (manufacturer) connections whose kind writes partner accounts, by name."""
    kinds = default_registry()
    return [
        name
        for name, conn in sorted(settings.connections.items())
        if isinstance(conn, CrmConnection)
        and conn.role == "manufacturer"
        and kinds.can(conn, Capability.ACCOUNTS)
    ]


def kick_partner(session: Session, settings: Settings, partner_id: str) -> list[str]:
    """After ``session`` commits, compute and queue ``partner_id``'s figures on every home connection
    that writes accounts (a partner just linked to its account need not wait for the schedule); the
    connections kicked. Only an accelerator: the next scheduled run covers the partner anyway."""
    homes = account_homes(settings)
    for name in homes:
        dispatch_after_commit(session, PUSH_PERFORMANCE, name, partner_id)
    return homes


def due_targets(names: Iterable[str], session: Session, now: datetime) -> dict[str, datetime]:
    """Which of the home connections ``names`` have their performance timer due, since when."""
    by_timer = {performance_timer(name): name for name in names}
    return {by_timer[t]: since for t, since in timers.due(session, sorted(by_timer), now).items()}
