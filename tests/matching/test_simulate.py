"""Simulation: replay leads under two policies and compare shares, gaps, changes and conversions."""

from __future__ import annotations

import pytest

from leadbridge.core.model import Offer, OfferStatus
from leadbridge.core.performance import PartnerStats, finish
from leadbridge.core.policy import Performance
from leadbridge.core.simulate import simulate
from tests.matching.helpers import NOW, lead, partner, policy

NEAR = partner("P-near", capacity={"max_open": 2})
FAR = partner("P-far", location_latitude=49.4, location_longitude=11.1)
AT = partner("P-at", territory={"countries": ["AT"]})
LEADS = [lead() for _ in range(4)] + [lead(address={"postal_code": "1010", "country": "AT"})]


def test_given_two_policies_when_replayed_then_shares_changes_and_gaps_are_reported() -> None:
    old = policy()
    new = policy(filters={"capacity": False}, channel={"named_accounts": ["Muster GmbH"]})
    stats = {"P-near": finish(PartnerStats("P-near", won=9, lost=1, accepted=10), Performance())}
    report = simulate(LEADS, [NEAR, FAR, AT], old, new, stats, now=NOW, seed=1)
    data = report.to_dict()
    # old: the near partner takes two (its cap), the far one the rest; the AT lead goes to P-at
    assert report.old.counts() == {"P-near": 2, "P-far": 2, "P-at": 1}
    # new: every "Muster GmbH" lead goes to direct sales
    assert report.new.direct_sales == 5 and report.new.counts() == {}
    assert data["changed_partner"] == 5
    assert data["direct_sales"] == {"before": 0, "after": 5}
    near_row = next(p for p in data["partners"] if p["partner_id"] == "P-near")
    assert near_row["share_before"] == pytest.approx(0.4) and near_row["share_after"] == 0
    expected_near = stats["P-near"].acceptance_rate * stats["P-near"].win_rate
    assert data["expected_conversions"]["before"] == pytest.approx(
        2 * expected_near + 3 * 0.7 * 0.2, abs=0.01
    )


def test_given_a_stricter_policy_when_replayed_then_leads_without_partner_are_counted() -> None:
    strict = policy(filters={"certification": {"min_level": 3}})
    report = simulate(LEADS, [NEAR, FAR, AT], policy(), strict, {}, now=NOW, seed=1)
    assert report.old.no_partner == 0
    assert report.new.no_partner == 5


def test_given_history_when_replayed_then_actual_accepted_leads_are_counted_and_replay_is_repeatable() -> (
    None
):
    history = {LEADS[0].id: [Offer(lead_id=LEADS[0].id, partner_id="P-far", status=OfferStatus.ACCEPTED)]}
    first = simulate(LEADS, [NEAR, FAR, AT], policy(), policy(), {}, now=NOW, seed=3, history=history)
    again = simulate(LEADS, [NEAR, FAR, AT], policy(), policy(), {}, now=NOW, seed=3, history=history)
    assert first.actual == {"P-far": 1}
    assert first.to_dict() == again.to_dict()
    assert first.changed == []
