"""Past performance of each partner, from its offers and the lead event log.

Rules:
- Rates are Bayesian-smoothed toward the priors with ``prior_strength`` pseudo-observations:
  ``(successes + prior × k) / (trials + k)``. A new partner therefore scores the prior — it is
  neither starved (rate 0) nor flooded (rate 1) — and its own record takes over as it grows.
- The priors are the pooled rates of all partners (empirical Bayes) once there are at least
  ``MIN_POOLED_ANSWERED`` answered offers (acceptance) and ``MIN_POOLED_OUTCOMES`` outcomes (win),
  unless ``performance.prior_from_history`` is false; else the policy's ``prior_*`` rates. A table
  keeps them as ``StatsTable.prior``, the stats of a partner without history.
- acceptance rate = accepted / (accepted + declined + expired); win rate = won / (won + lost);
  a decline for ``not_a_lead`` is not counted as declined (the closed loop: refusing a bad lead is
  feedback on the lead, not a mark against the partner; returns never lower the acceptance rate);
  speed = median hours from offer to accept, smoothed toward ``prior_accept_hours``.
- Load and caps: ``open_leads`` are accepted leads without an outcome or return; ``pending`` are
  offers awaiting the partner's answer; ``holding`` (their sum) is what ``capacity.max_open`` and
  the load scorer read — so a lead offered during a routing pass weighs the same as it will in the
  next pass's stats (``with_assignment`` adds a pending offer, as the database will hold); ``today``,
  ``this_week`` and ``this_month`` count offers that reached the partner (pending or accepted) in
  the current UTC day / ISO week / month — what capacity caps are checked against;
  ``round_robin_count`` counts this month's round-robin offers (the weighted round robin's state).
- Pool listings are not offers made to one partner: an open listing does not count against caps
  (claims do), and one that closed unclaimed is no expiry (leaving a pool lead is no refusal).
- Performance tier: ``weak`` at or below ``weak_max_win_rate``, ``high`` at or above
  ``high_min_win_rate``, else ``moderate``; partners with fewer than ``min_offers_for_tier``
  offers are ``moderate`` (not enough evidence).
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NoReturn

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import LeadEvent, Offer, OfferStatus
from leadbridge.core.policy import POOL_MODES, Performance, PerformanceTierName
from leadbridge.core.reasons import NOT_A_LEAD


@dataclass(frozen=True)
class PartnerStats:
    """Counts and smoothed rates for one partner (see the module rules)."""

    partner_id: str
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    expired: int = 0
    returned: int = 0
    won: int = 0
    lost: int = 0
    median_accept_hours: float | None = None
    open_leads: int = 0
    pending: int = 0
    today: int = 0
    this_week: int = 0
    this_month: int = 0
    round_robin_count: int = 0
    returns_by_reason: dict[str, int] = field(default_factory=dict)
    win_rate: float = 0.0
    acceptance_rate: float = 0.0
    accept_hours: float = 0.0
    tier: PerformanceTierName = PerformanceTierName.MODERATE

    @property
    def holding(self) -> int:
        """Leads the partner holds or has been offered and not answered (caps and load read this)."""
        return self.open_leads + self.pending

    def with_assignment(self) -> PartnerStats:
        """These stats after one more offer reached the partner (what ``compute_stats`` would count
        once it is stored: a pending offer, and one more lead today, this week and month)."""
        return replace(
            self,
            pending=self.pending + 1,
            today=self.today + 1,
            this_week=self.this_week + 1,
            this_month=self.this_month + 1,
            round_robin_count=self.round_robin_count + 1,
        )


class StatsTable(dict[str, PartnerStats]):
    """Partner stats by partner id that cannot change once built (``compute_stats`` returns one).

    Matching may cache work per table object — safe only because, unlike a plain dict, it cannot
    change. It is a dict underneath (for lookup speed) with every mutating method refused.
    ``prior``: the stats of a partner without history (its rates are the table's priors).
    """

    def __init__(self, data: Mapping[str, PartnerStats] | None = None, *, prior: PartnerStats | None = None):
        super().__init__(data or {})
        self.prior = prior

    def _frozen(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("a StatsTable cannot change; build a new one")

    __setitem__ = __delitem__ = __ior__ = _frozen
    clear = pop = popitem = setdefault = update = _frozen


def smooth(successes: float, trials: float, prior: float, strength: float) -> float:
    """Bayesian (beta-prior) mean: ``(successes + prior × strength) / (trials + strength)``."""
    return (successes + prior * strength) / (trials + strength)


class RunningStats(dict[str, PartnerStats]):
    """A changeable copy of partner stats that keeps the table's ``prior`` (``route_batch``)."""

    def __init__(self, base: Mapping[str, PartnerStats]) -> None:
        super().__init__(base)
        self.prior: PartnerStats | None = getattr(base, "prior", None)


def prior_of(stats: Mapping[str, PartnerStats], config: Performance, partner_id: str = "") -> PartnerStats:
    """The stats of a partner without history: the table's ``prior`` if it has one, else the
    policy's configured priors."""
    prior: PartnerStats | None = getattr(stats, "prior", None)
    if prior is None:
        return prior_stats(partner_id, config)
    return replace(prior, partner_id=partner_id) if partner_id else prior


# Pooled rates replace the configured priors once there is this much evidence across partners.
MIN_POOLED_ANSWERED = 100
MIN_POOLED_OUTCOMES = 30


def pooled_priors(stats: Iterable[PartnerStats], config: Performance) -> tuple[float, float]:
    """(acceptance, win) priors: the pooled rates of all partners (``prior_from_history`` and
    enough evidence), else the configured ``prior_acceptance_rate`` and ``prior_win_rate``."""
    accepted = answered = won = decided = 0
    for s in stats:
        accepted += s.accepted
        answered += s.accepted + s.declined + s.expired
        won += s.won
        decided += s.won + s.lost
    acceptance, win = config.prior_acceptance_rate, config.prior_win_rate
    if config.prior_from_history and answered >= MIN_POOLED_ANSWERED:
        acceptance = accepted / answered
    if config.prior_from_history and decided >= MIN_POOLED_OUTCOMES:
        win = won / decided
    return acceptance, win


def refinish(stats: Mapping[str, PartnerStats], config: Performance) -> StatsTable:
    """Every partner's stats finished again under ``config`` (priors pooled as in ``stats_table``)."""
    priors = pooled_priors(stats.values(), config)
    finished = {pid: finish(s, config, priors) for pid, s in stats.items()}
    return StatsTable(finished, prior=finish(PartnerStats(""), config, priors))


def finish(
    stats: PartnerStats, config: Performance, priors: tuple[float, float] | None = None
) -> PartnerStats:
    """Fill the smoothed rates and the performance tier from the raw counts; ``priors``:
    (acceptance, win) to smooth toward instead of the configured ones."""
    k = config.prior_strength
    prior_acceptance, prior_win = priors or (config.prior_acceptance_rate, config.prior_win_rate)
    win_rate = smooth(stats.won, stats.won + stats.lost, prior_win, k)
    decided = stats.accepted + stats.declined + stats.expired
    acceptance = smooth(stats.accepted, decided, prior_acceptance, k)
    if stats.median_accept_hours is None:
        hours = config.prior_accept_hours
    else:
        hours = smooth(
            stats.median_accept_hours * stats.accepted, stats.accepted, config.prior_accept_hours, k
        )
    if stats.offers < config.min_offers_for_tier:
        tier = PerformanceTierName.MODERATE
    elif win_rate >= config.high_min_win_rate:
        tier = PerformanceTierName.HIGH
    elif win_rate <= config.weak_max_win_rate:
        tier = PerformanceTierName.WEAK
    else:
        tier = PerformanceTierName.MODERATE
    return replace(stats, win_rate=win_rate, acceptance_rate=acceptance, accept_hours=hours, tier=tier)


def prior_stats(partner_id: str, config: Performance) -> PartnerStats:
    """Stats for a partner with no history: the priors."""
    return finish(PartnerStats(partner_id), config)


def _same_week(a: datetime, b: datetime) -> bool:
    return a.isocalendar()[:2] == b.isocalendar()[:2]


def compute_stats(
    offers: Iterable[Offer], events: Iterable[LeadEvent], config: Performance, *, now: datetime
) -> StatsTable:
    """Per-partner stats from all offers and the lead events (win/lose/return) — pure."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    accept_hours: dict[str, list[float]] = defaultdict(list)
    holding: dict[str, set[str]] = defaultdict(set)
    for offer in offers:
        c = counts[offer.partner_id]
        c["offers"] += 1
        status = offer.status
        if status in (OfferStatus.ACCEPTED, OfferStatus.RETURNED):
            c["accepted"] += 1
            if offer.decided_at is not None:
                accept_hours[offer.partner_id].append(
                    (offer.decided_at - offer.offered_at).total_seconds() / 3600
                )
            if status is OfferStatus.ACCEPTED:
                holding[offer.partner_id].add(offer.lead_id)
        elif status is OfferStatus.DECLINED:
            c["declined"] += offer.reason_code != NOT_A_LEAD
        elif status is OfferStatus.EXPIRED and offer.mode not in POOL_MODES:
            c["expired"] += 1
        elif status is OfferStatus.PENDING and offer.mode not in POOL_MODES:
            c["pending"] += 1
        if status in (OfferStatus.ACCEPTED, OfferStatus.RETURNED) or (
            status is OfferStatus.PENDING and offer.mode not in POOL_MODES
        ):
            at = offer.offered_at
            c["today"] += at.date() == now.date()
            c["this_week"] += _same_week(at, now)
            c["this_month"] += (at.year, at.month) == (now.year, now.month)
        if offer.mode == "round_robin" and (offer.offered_at.year, offer.offered_at.month) == (
            now.year,
            now.month,
        ):
            c["round_robin"] += 1
    returns: dict[str, Counter[str]] = defaultdict(Counter)
    for event in events:
        if event.partner_id is None:
            continue
        if event.kind == EventKind.WIN:
            counts[event.partner_id]["won"] += 1
            holding[event.partner_id].discard(event.lead_id)
        elif event.kind == EventKind.LOSE:
            counts[event.partner_id]["lost"] += 1
            holding[event.partner_id].discard(event.lead_id)
        elif event.kind == EventKind.RETURN:
            counts[event.partner_id]["returned"] += 1
            returns[event.partner_id][str(event.payload.get("reason_code") or "unknown")] += 1
    open_leads = {partner_id: len(leads) for partner_id, leads in holding.items()}
    return stats_table(counts, accept_hours, open_leads, returns, config)


def stats_table(
    counts: Mapping[str, Counter[str]],
    accept_hours: Mapping[str, list[float]],
    open_leads: Mapping[str, int],
    returns: Mapping[str, Counter[str]],
    config: Performance,
) -> StatsTable:
    """Finished stats for every partner in ``counts`` (keys: offers, accepted, declined, expired,
    pending, returned, won, lost, today, this_week, this_month, round_robin)."""
    raws: dict[str, PartnerStats] = {}
    for partner_id, c in counts.items():
        hours = accept_hours.get(partner_id)
        raw = PartnerStats(
            partner_id=partner_id,
            offers=c["offers"],
            accepted=c["accepted"],
            declined=c["declined"],
            expired=c["expired"],
            returned=c["returned"],
            won=c["won"],
            lost=c["lost"],
            median_accept_hours=statistics.median(hours) if hours else None,
            open_leads=open_leads.get(partner_id, 0),
            pending=c["pending"],
            today=c["today"],
            this_week=c["this_week"],
            this_month=c["this_month"],
            round_robin_count=c["round_robin"],
            returns_by_reason=dict(returns.get(partner_id, {})),
        )
        raws[partner_id] = raw
    return refinish(raws, config)


def stats_for(stats: Mapping[str, PartnerStats], partner_id: str, config: Performance) -> PartnerStats:
    """The partner's stats, or the priors when it has none yet (the table's own, if it has them)."""
    found = stats.get(partner_id)
    return found if found is not None else prior_of(stats, config, partner_id)
