"""The routing executor: carry out what ``match`` decides and the mode planners plan, in the database.

Rules (each lead in its own transaction, with its row locked, so two workers never route one lead twice):
- a ``qualified`` lead starts round 1 (``route``); a lead in ``routing`` (after a re-route) is matched
  for its current round. Partners that declined, let expire or returned it are barred (``History``);
- the decision is stored with every offer it creates (audit), and the plan is executed: offers
  created (auto-accepted when the policy says), or the lead handed to direct sales, or the fallback;
- leads whose every offer of the round was refused (declined/expired, none pending, none accepted)
  are handed to ``on_refusal``: wait, cascade to the next partner, re-route, or fall back;
- ``returned`` leads follow their return reason (``on_return``): re-route, nurture or close;
- ``route_pending`` sweeps all of the above, so whichever path refused or returned a lead — inbox,
  partner CRM, SLA expiry — the next pass moves it on; running it twice changes nothing more.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

from sqlalchemy import exists, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadbridge.core import policy_history, stats_cache
from leadbridge.core.dedup import settle_duplicates
from leadbridge.core.errors import ConflictError, IllegalTransition, NotFound
from leadbridge.core.event_batch import event_batch, lock_leads
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.matching import Decision, PartnerIndex, history_from_offers
from leadbridge.core.matching.batch import count_offers, route_batch
from leadbridge.core.matching.modes import (
    Action,
    Plan,
    next_round_or_fallback,
    on_refusal,
    on_return,
    plan_round,
)
from leadbridge.core.model import Lead, Offer, OfferStatus, utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.partner import Partner
from leadbridge.core.partner_index_cache import partners_and_index
from leadbridge.core.performance import PartnerStats
from leadbridge.core.policy import Policy, default_policy, load_policy
from leadbridge.core.settings import Settings
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OfferRow

log = logging.getLogger(__name__)
ACTOR = "router"
# Leads per routing transaction: large enough that a pass costs a few round trips per chunk, not
# per lead; small enough that a chunk redone one by one (a lead moved under us) stays cheap.
ROUTE_CHUNK = 100
# Up to this many active partners every decision is fully explained (each partner's filter verdict;
# about 1 ms per lead at 500). Beyond, the indexed match is used (milliseconds at 10,000 partners
# instead of 10–25) and only the picks are itemised; `leadbridge route LEAD --explain` recomputes
# the full explanation on demand.
EXPLAIN_ALL_UP_TO = 500
Clock = Callable[[], datetime]
_MATCHED = frozenset({LeadState.QUALIFIED.value, LeadState.ROUTING.value})  # ``advance`` routes these


def policy_from_settings(settings: Settings) -> Policy:
    """The configured policy file, or the built-in default when none is configured or present."""
    path = settings.resolve(settings.policy)
    if path is None or not Path(path).exists():
        return default_policy()
    return load_policy(Path(path))


@dataclass
class RouteSummary:
    """What one pass did; ``routed`` counts leads that got offers or a channel this pass."""

    routed: int = 0
    offers: int = 0
    direct: int = 0
    nurtured: int = 0
    closed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)
    more: bool = False  # the pass stopped at its deadline with leads still waiting

    def add(self, other: RouteSummary) -> None:
        """Count ``other``'s pass into this one (every counter, and its errors)."""
        for counter in fields(self):
            if counter.type == "int":  # the counters (annotations are strings here; ``more`` is a bool)
                setattr(self, counter.name, getattr(self, counter.name) + getattr(other, counter.name))
        self.errors += other.errors


@dataclass
class RoutingContext:
    """What every lead of one pass shares: policy, partners (indexed), performance stats, clock, rng."""

    policy: Policy
    partners: dict[str, Partner]
    index: PartnerIndex
    stats: Mapping[str, PartnerStats]
    now: datetime
    rng: random.Random

    aggregated_at: float = 0.0  # time.monotonic() when ``stats`` were aggregated (``stats_cache``)

    @classmethod
    def load(
        cls,
        session: Session,
        policy: Policy,
        *,
        now: datetime,
        rng: random.Random,
        stats_max_age: float = 0.0,
    ) -> RoutingContext:
        """``stats_max_age`` > 0: start from the previous pass's stats while younger (``stats_cache``)."""
        partners, index = partners_and_index(session, policy, now)
        database = _database_key(session)
        stats = stats_cache.cached(database, policy.performance, now.date(), stats_max_age)
        aggregated_at = stats_cache.aggregated_at(database) if stats is not None else time.monotonic()
        if stats is None:
            stats = load_stats(session, policy.performance, now=now)
        policy_history.record(session, policy, by=ACTOR, at=now)  # decisions carry its hash
        return cls(policy, partners, index, stats, now, rng, aggregated_at)


def _database_key(session: Session) -> str:
    return session.get_bind().engine.url.render_as_string(hide_password=True)


class Router:
    """Routes leads per the module rules; one instance per pass (it caches partners and stats)."""

    def __init__(
        self,
        session: Session,
        context: RoutingContext,
        clock: Clock = utcnow,
        offers: Mapping[str, list[Offer]] | None = None,
    ) -> None:
        """``offers``: the offers of every lead this router will see, loaded by the caller at once."""
        self.session = session
        self.ctx = context
        self.leads = LeadService(session, clock)
        self.offers = OfferService(session, clock)
        self._offers = offers
        self._ahead: dict[str, tuple[Lead, Decision]] = {}  # decided with the leads before them

    def _offers_of(self, lead_id: str) -> list[Offer]:
        if self._offers is not None:
            return self._offers.get(lead_id, [])
        return self.offers.for_lead(lead_id)

    # -- entry points ----------------------------------------------------------------------
    def advance_all(self, rows: Sequence[LeadRow], summary: RouteSummary) -> None:
        """``advance`` each of ``rows`` in order (the caller holds them locked).

        Each run of leads waiting to be matched (qualified, routing) is decided by one
        ``route_batch`` before the first of them is executed: the same decisions as matching them
        one by one, since executing a match changes nothing a later match reads but the running
        stats, which the batch carries from lead to lead in the same order (and with the same rng)."""
        for at, row in enumerate(rows):
            if row.id not in self._ahead and row.state in _MATCHED:
                run = list(itertools.takewhile(lambda r: r.state in _MATCHED, rows[at:]))
                self._decide(run)
            self.advance(row.id, summary)

    def _decide(self, rows: Sequence[LeadRow]) -> None:
        leads = [lead_from_row(row) for row in rows]
        batch = route_batch(
            leads,
            self.ctx.index,
            self.ctx.policy,
            self.ctx.stats,
            now=self.ctx.now,
            rng=self.ctx.rng,
            histories={lead.id: history_from_offers(self._offers_of(lead.id)) for lead in leads},
            explain=len(self.ctx.partners) <= EXPLAIN_ALL_UP_TO,
        )
        self.ctx.stats = batch.stats
        for lead, decision in zip(leads, batch.decisions, strict=True):
            self._ahead[lead.id] = (lead, decision)

    def advance(self, lead_id: str, summary: RouteSummary) -> None:
        """Move one lead on from wherever it waits (no-op when it waits for nobody)."""
        row = self.leads.get_row(lead_id, for_update=True)
        state = LeadState(row.state)
        if state in (LeadState.QUALIFIED, LeadState.ROUTING):
            self.route(row, summary)
        elif state is LeadState.RETURNED:
            self._after_return(row, summary)
        elif state is LeadState.OFFERED:
            self._after_refusal(row, summary)

    def route(self, row: LeadRow, summary: RouteSummary) -> Decision:
        """Match the lead for its next round and execute the round's plan."""
        if row.state == LeadState.QUALIFIED.value:
            # One key per qualification (a recycled or split lead is qualified again, later): a
            # key per lead would make its second routing a silent no-op and leave it 'qualified'.
            since = row.state_changed_at.isoformat() if row.state_changed_at else "first"
            self.leads.apply(
                row.id, EventKind.ROUTE, actor=ACTOR, idempotency_key=f"route:{row.id}:{since}", row=row
            )
        if row.id not in self._ahead:  # a batch of one (its offers counted toward the running stats)
            self._decide([row])
        lead, decision = self._ahead.pop(row.id)
        plan = plan_round(decision, lead, self.ctx.policy, self.ctx.partners, now=self.ctx.now)
        self._execute(row, lead, decision, plan, summary)
        return decision

    # -- after partners answered ------------------------------------------------------------
    def _after_refusal(self, row: LeadRow, summary: RouteSummary) -> None:
        offers = self._offers_of(row.id)
        if not offers or any(o.status in (OfferStatus.PENDING, OfferStatus.ACCEPTED) for o in offers):
            summary.waiting += 1
            return
        decision = _latest_decision(offers)
        lead = lead_from_row(row)
        if decision is None:  # the round was a manual assignment (cockpit): there is no ranking to go on
            reason = "the partner assigned by hand refused the lead"
            plan = next_round_or_fallback(row.round or 1, self.ctx.policy, reason)
            self._execute(row, lead, None, plan, summary)
            return
        plan = on_refusal(decision, offers, lead, self.ctx.policy, self.ctx.partners, now=self.ctx.now)
        if plan.action is Action.OFFER:  # a cascade's next partner: count it as route_batch would
            self.ctx.stats = count_offers(
                self.ctx.stats, [spec.partner_id for spec in plan.create], self.ctx.policy
            )
        self._execute(row, lead, decision, plan, summary)

    def _after_return(self, row: LeadRow, summary: RouteSummary) -> None:
        last_return = next(
            (e for e in reversed(self.leads.events(row.id)) if e.kind == EventKind.RETURN), None
        )
        reason = str((last_return.payload if last_return else {}).get("reason_code") or "no_fit")
        plan = on_return(reason, row.round or 1, self.ctx.policy)
        self._execute(row, lead_from_row(row), None, plan, summary)

    # -- executing a plan -------------------------------------------------------------------
    def _execute(
        self, row: LeadRow, lead: Lead, decision: Decision | None, plan: Plan, summary: RouteSummary
    ) -> None:
        key = f"{row.id}:r{row.round}"
        if plan.escalate:
            self.leads.apply(
                row.id,
                EventKind.ESCALATE,
                actor=ACTOR,
                idempotency_key=f"escalate:{key}:{plan.action}",
                payload={"reason": plan.reason},
                row=row,
            )
        if plan.action is Action.OFFER and decision is not None:
            audit = decision.audit()
            for spec in plan.create:
                offer, applied = self.offers.create(
                    row.id,
                    spec.partner_id,
                    round=spec.round,
                    mode=spec.mode,
                    deadline=spec.deadline,
                    decision={**audit, "preview": spec.preview} if spec.preview else audit,
                    actor=ACTOR,
                )
                summary.offers += int(applied.created)
                if spec.auto_accept:
                    self.offers.accept(offer.id, actor=ACTOR, idempotency_key=f"auto-accept:{offer.id}")
            summary.routed += 1
        elif plan.action is Action.REROUTE:
            self.leads.apply(
                row.id,
                EventKind.REROUTE,
                actor=ACTOR,
                idempotency_key=f"reroute:{key}",
                payload={"reason": plan.reason},
                row=row,
            )
            self.route(row, summary)
        elif plan.action is Action.DIRECT_SALES:
            self._to(row, EventKind.DIRECT, key, plan, decision)
            summary.direct += 1
            summary.routed += 1
        elif plan.action is Action.NURTURE:
            self._to(row, EventKind.NURTURE, key, plan, decision)
            summary.nurtured += 1
        elif plan.action is Action.CLOSE:
            self._to(row, EventKind.CLOSE, key, plan)
            summary.closed += 1
        else:
            summary.waiting += 1

    def _to(
        self, row: LeadRow, kind: EventKind, key: str, plan: Plan, decision: Decision | None = None
    ) -> None:
        """Move the lead to direct sales, nurture or closed; a fallback or channel rule stores the
        decision that led there (why no partner got it) in the event, as offers store theirs."""
        if row.state == LeadState.OFFERED.value and kind is not EventKind.CLOSE:
            # The lifecycle leaves ``offered`` only through a re-route; the fallback follows it.
            self.leads.apply(
                row.id,
                EventKind.REROUTE,
                actor=ACTOR,
                idempotency_key=f"reroute:{key}:fallback",
                payload={"reason": plan.reason},
                row=row,
            )
        payload: dict[str, object] = {"reason": plan.reason}
        if decision is not None:
            payload["decision"] = decision.audit()
        self.leads.apply(
            row.id,
            kind,
            actor=ACTOR,
            idempotency_key=f"{kind.value}:{key}",
            payload=payload,
            row=row,
        )


def _latest_decision(offers: Sequence[Offer]) -> Decision | None:
    """The matcher's decision behind the latest offer; ``None`` when that offer was assigned by
    hand (its stored decision names only who assigned it) or carries none (imported history)."""
    latest = max(offers, key=lambda o: (o.round, o.offered_at))
    if not latest.decision or "lead_id" not in latest.decision:
        return None
    return Decision.from_dict({k: v for k, v in latest.decision.items() if k != "preview"})


def waiting_lead_ids(session: Session, limit: int | None = None) -> list[str]:
    """Leads the router must move on: qualified, routing, returned, or offered with every offer
    refused — oldest first. Two parts joined (not one OR), so each is read from its index alone
    (``ix_leads_state_created``; the offered leads' open offers from ``ix_offers_lead_status``)."""
    open_offer = exists().where(
        OfferRow.lead_id == LeadRow.id,
        OfferRow.status.in_([OfferStatus.PENDING.value, OfferStatus.ACCEPTED.value]),
    )
    waiting = select(LeadRow.id, LeadRow.created_at).where(
        LeadRow.state.in_([LeadState.QUALIFIED.value, LeadState.ROUTING.value, LeadState.RETURNED.value])
    )
    refused = select(LeadRow.id, LeadRow.created_at).where(
        LeadRow.state == LeadState.OFFERED.value, ~open_offer
    )
    both = union_all(waiting, refused).subquery()
    query = select(both.c.id).order_by(both.c.created_at, both.c.id)
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def route_pending(
    database: Database,
    *,
    policy: Policy | None = None,
    lead_ids: Sequence[str] | None = None,
    clock: Clock = utcnow,
    rng: random.Random | None = None,
    limit: int | None = None,
    settings: Settings | None = None,
    chunk: int = ROUTE_CHUNK,
    deadline: float | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    stats_max_age: float = 0.0,
) -> RouteSummary:
    """Move every waiting lead on (module rules).

    Leads are routed ``chunk`` at a time, each chunk in one transaction with one event batch; a chunk
    that fails for any lead is rolled back whole and redone one lead per transaction, so one lead
    that another worker moved first (or that breaks a rule) costs only speed, never another lead.
    With ``deadline`` (``time.monotonic()``), no new chunk starts after it: the summary then says
    ``more`` and the next pass goes on (oldest first, so nothing waits forever behind a backlog).
    ``stats_max_age`` > 0 lets the pass start from the stats this process's previous pass ended with
    (``core/stats_cache.py``: up to that many seconds old); 0 aggregates them afresh.
    """
    if policy is None:
        from leadbridge.core.settings import load_settings

        policy = policy_from_settings(settings or load_settings(kinds=None))  # the policy only
    summary = RouteSummary()
    now = clock()
    with database.transaction() as session:
        ids = list(lead_ids) if lead_ids is not None else waiting_lead_ids(session, limit)
        ids = settle_duplicates(session, ids, policy.dedup, now)  # one person, one lead (core/dedup.py)
        if not ids:
            return summary
        context = RoutingContext.load(
            session,
            policy,
            now=now,
            rng=rng or random.Random(now.timestamp()),
            stats_max_age=stats_max_age,
        )
        database_key = _database_key(session)
    for start in range(0, len(ids), max(1, chunk)):
        if deadline is not None and monotonic() > deadline:
            summary.more = True
            break
        part = ids[start : start + max(1, chunk)]
        if len(part) > 1 and _route_chunk(database, context, clock, part, summary):
            continue
        for lead_id in part:
            _route_one(database, context, clock, lead_id, summary)
    if stats_max_age > 0:  # the next pass starts from these stats, this pass's offers counted
        stats_cache.keep(
            database_key, policy.performance, now.date(), context.stats, aggregated_at=context.aggregated_at
        )
    return summary


def _route_chunk(
    database: Database, context: RoutingContext, clock: Clock, lead_ids: list[str], summary: RouteSummary
) -> bool:
    """Route ``lead_ids`` in one transaction; False (and nothing changed) if any of them failed."""
    stats_before = context.stats
    part = RouteSummary()
    try:
        with database.transaction() as session:
            rows = lock_leads(session, lead_ids)
            offers = OfferService(session, clock).for_leads([r.id for r in rows])
            with event_batch(session, rows):
                Router(session, context, clock, offers=offers).advance_all(rows, part)
    except Exception as error:  # whatever one lead breaks, the others are redone one by one
        context.stats = stats_before  # the redo counts its own assignments
        log.info("routing %d leads at once failed (%s); routing them one by one", len(lead_ids), error)
        return False
    summary.add(part)
    return True


def _route_one(
    database: Database, context: RoutingContext, clock: Clock, lead_id: str, summary: RouteSummary
) -> None:
    try:
        with database.transaction() as session:
            Router(session, context, clock).advance(lead_id, summary)
    except (IllegalTransition, ConflictError, NotFound, IntegrityError) as error:
        # Another worker moved the lead first, or it vanished: the next pass sees the new state.
        log.info("routing %s skipped: %s", lead_id, error)
        summary.errors.append(f"{lead_id}: {error}")
    except Exception as error:  # one broken lead must never stop the pass for the others
        log.exception("routing %s failed; the other leads go on, it is tried again next pass", lead_id)
        summary.errors.append(f"{lead_id}: {type(error).__name__}: {error}")
