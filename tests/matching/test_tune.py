"""The conversion model (the yardstick of simulate and tune) and the tune search."""

from __future__ import annotations

import random

import pytest

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.matching import build_index
from leadbridge.core.matching.batch import route_batch
from leadbridge.core.model import LeadEvent, Offer, OfferStatus
from leadbridge.core.outcomes import Observation, fit, observations
from leadbridge.core.performance import compute_stats
from leadbridge.core.tune import policy_yaml, tune
from tests.matching.helpers import NOW, lead, partner, policy


def test_given_far_offers_convert_less_when_fitted_then_distance_factors_fall_and_never_rise() -> None:
    rng = random.Random(1)
    items = []
    for n in range(4000):
        km = rng.uniform(0, 400)
        p = 0.3 / (1 + (km / 80) ** 2)
        accepted = rng.random() < 0.7
        items.append(Observation(f"P-{n % 20}", km, accepted, rng.random() < p / 0.7 if accepted else None))
    model = fit(items)
    assert model.factors == tuple(sorted(model.factors, reverse=True))
    assert model.factor(10) > 1.3 and model.factor(350) < 0.4
    assert model.expected("P-1", 10) > model.expected("P-1", 250)
    assert model.rates("P-unknown") == (model.pooled_acceptance, model.pooled_win)


def test_given_stored_offers_when_observed_then_distance_from_the_decision_and_outcome_from_events() -> None:
    decision = {"candidates": [{"partner_id": "P-a", "distance_km": 12.5}]}
    offers = [
        Offer(lead_id="L-1", partner_id="P-a", status=OfferStatus.ACCEPTED, decision=decision),
        Offer(lead_id="L-2", partner_id="P-a", status=OfferStatus.DECLINED),
        Offer(lead_id="L-3", partner_id="P-a", status=OfferStatus.PENDING),
    ]
    win = LeadEvent(
        lead_id="L-1",
        kind=EventKind.WIN.value,
        to_state="won",
        actor="p",
        idempotency_key="w",
        partner_id="P-a",
    )
    assert observations(offers, [win]) == [
        Observation("P-a", 12.5, True, True),
        Observation("P-a", None, False, None),
    ]


def test_given_history_where_a_far_partner_converts_best_when_tuned_then_reach_widens() -> None:
    """Locals convert poorly, a partner 120 km away converts very well: tune should reach it."""
    local = partner("P-local")
    star = partner("P-star", location_latitude=48.137 + 120 / 111.19)
    offers, events = [], []
    for n in range(200):
        for pid, km, wins in (("P-local", 0.5, n % 10 == 0), ("P-star", 120.0, n % 2 == 0)):
            decision = {"candidates": [{"partner_id": pid, "distance_km": km}]}
            lead_id = f"L-{pid}-{n}"
            offers.append(
                Offer(lead_id=lead_id, partner_id=pid, status=OfferStatus.ACCEPTED, decision=decision)
            )
            kind = EventKind.WIN if wins else EventKind.LOSE
            events.append(
                LeadEvent(
                    lead_id=lead_id,
                    kind=kind.value,
                    to_state="x",
                    actor="p",
                    idempotency_key=f"{kind}:{lead_id}",
                    partner_id=pid,
                )
            )
    current = policy(scoring={"reach_km": 10, "reach_half_km": 10})
    stats = compute_stats(offers, events, current.performance, now=NOW)
    from leadbridge.core.outcomes import model_from

    model = model_from(offers, events)
    index = build_index([local, star], current, NOW)
    report = tune([lead() for _ in range(100)], index, current, stats, model, now=NOW, max_evaluations=25)
    assert report.best > report.current
    leads = [lead() for _ in range(50)]
    before = route_batch(leads, index, current, stats, now=NOW, seed=1).picks()
    after = route_batch(leads, index, report.policy, stats, now=NOW, seed=1).picks()
    assert list(before.values()).count("P-star") < list(after.values()).count("P-star")
    assert report.policy.filters.capacity.enabled and report.policy.performance.exploration_share >= 0.05
    assert "reach" in policy_yaml(report.policy) and report.to_dict()["gain_pct"] == pytest.approx(
        100 * (report.best / report.current - 1), abs=0.1
    )
