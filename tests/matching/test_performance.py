"""Past performance from offers and events: counts, Bayesian smoothing, tiers, capacity windows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import LeadEvent, Offer, OfferStatus
from leadbridge.core.performance import PartnerStats, compute_stats, finish, prior_stats, smooth
from leadbridge.core.policy import Performance

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)  # a Wednesday
CONFIG = Performance()


def offer(
    lead: str, status: OfferStatus, offered: datetime, decided_hours: float | None = None, **over: object
) -> Offer:
    decided = offered + timedelta(hours=decided_hours) if decided_hours is not None else None
    return Offer(
        lead_id=lead, partner_id="P-1", status=status, offered_at=offered, decided_at=decided, **over
    )  # type: ignore[arg-type]


def event(kind: EventKind, lead: str, **payload: object) -> LeadEvent:
    return LeadEvent(
        lead_id=lead,
        kind=kind.value,
        to_state="x",
        actor="p",
        idempotency_key=f"{kind}:{lead}",
        partner_id="P-1",
        payload=payload,
    )


def test_given_offers_and_outcomes_when_computed_then_counts_rates_and_load() -> None:
    offers = [
        offer("L1", OfferStatus.ACCEPTED, NOW - timedelta(days=40), 2),
        offer("L2", OfferStatus.ACCEPTED, NOW - timedelta(days=3), 4),
        offer("L3", OfferStatus.RETURNED, NOW - timedelta(hours=2), 6),
        offer("L4", OfferStatus.DECLINED, NOW - timedelta(hours=1), 1),
        offer("L5", OfferStatus.EXPIRED, NOW - timedelta(days=1)),
        offer("L6", OfferStatus.PENDING, NOW - timedelta(minutes=5), mode="round_robin"),
        offer("L7", OfferStatus.ACCEPTED, NOW - timedelta(hours=3), 1),
    ]
    events = [event(EventKind.WIN, "L1"), event(EventKind.RETURN, "L3", reason_code="no_capacity")]
    stats = compute_stats(offers, events, CONFIG, now=NOW)["P-1"]
    assert (stats.offers, stats.accepted, stats.declined, stats.expired) == (7, 4, 1, 1)
    assert (stats.won, stats.lost, stats.returned) == (1, 0, 1)
    assert stats.returns_by_reason == {"no_capacity": 1}
    assert stats.open_leads == 2  # L2 and L7: L1 won, L3 returned
    assert (stats.today, stats.this_week, stats.this_month) == (3, 3, 4)  # L2 fell on last Sunday
    assert stats.round_robin_count == 1
    assert stats.median_accept_hours == 3.0
    assert stats.win_rate == pytest.approx((1 + 0.2 * 10) / (1 + 10))
    assert stats.acceptance_rate == pytest.approx((4 + 0.7 * 10) / (6 + 10))
    assert stats.accept_hours == pytest.approx((3 * 4 + 8 * 10) / (4 + 10))


def test_given_no_history_when_asked_then_the_priors() -> None:
    stats = prior_stats("P-new", CONFIG)
    assert (stats.win_rate, stats.acceptance_rate, stats.accept_hours) == (0.2, 0.7, 8.0)
    assert stats.tier == "moderate"


@pytest.mark.parametrize(
    ("won", "lost", "offers", "tier"),
    [
        (30, 10, 40, "high"),
        (0, 40, 40, "weak"),
        (5, 15, 20, "moderate"),
        (0, 9, 9, "moderate"),  # too few offers for a verdict
    ],
)
def test_given_a_record_when_classified_then_performance_tier(
    won: int, lost: int, offers: int, tier: str
) -> None:
    assert finish(PartnerStats("P", offers=offers, won=won, lost=lost), CONFIG).tier == tier


def test_given_the_prior_when_evidence_grows_then_the_rate_moves_toward_it() -> None:
    rates = [smooth(n, n, 0.2, 10) for n in (0, 10, 100, 1000)]
    assert rates == sorted(rates)
    assert rates[0] == 0.2 and rates[-1] > 0.99


def test_given_an_assignment_when_recorded_then_load_and_caps_counters_grow() -> None:
    after = PartnerStats("P").with_assignment()
    # an assignment is an offer the partner has not answered: pending, as compute_stats counts it
    assert (after.pending, after.today, after.this_week, after.this_month, after.round_robin_count) == (
        1,
        1,
        1,
        1,
        1,
    )
    assert (after.open_leads, after.holding) == (0, 1)


def test_given_enough_history_when_finished_then_priors_are_the_pooled_rates_and_new_partners_get_them() -> (
    None
):
    from leadbridge.core.performance import PartnerStats as S
    from leadbridge.core.performance import prior_of, refinish

    raws = {f"P-{n}": S(f"P-{n}", offers=20, accepted=8, declined=12, won=2, lost=6) for n in range(10)}
    table = refinish(raws, CONFIG)  # 200 answered offers, 80 outcomes: 40 % accept, 25 % win
    assert table.prior is not None
    assert (table.prior.acceptance_rate, table.prior.win_rate) == pytest.approx((0.4, 0.25))
    assert prior_of(table, CONFIG, "P-new").partner_id == "P-new"
    assert table["P-0"].acceptance_rate == pytest.approx((8 + 0.4 * 10) / (20 + 10))
    configured = refinish(raws, CONFIG.model_copy(update={"prior_from_history": False}))
    assert configured.prior is not None and configured.prior.acceptance_rate == CONFIG.prior_acceptance_rate
    thin = refinish({"P-0": raws["P-0"]}, CONFIG)  # 20 answered offers: not enough to pool
    assert thin.prior is not None and thin.prior.win_rate == CONFIG.prior_win_rate
