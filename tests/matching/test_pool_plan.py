"""Pool planning, pure: listings with windows, hybrid groups that widen, the fallback after the pool."""

from __future__ import annotations

from datetime import timedelta

from leadbridge.core.matching import match
from leadbridge.core.matching.modes import Action, on_refusal, plan_round
from leadbridge.core.matching.pool_plan import hybrid_groups, next_stage
from leadbridge.core.model import Offer, OfferStatus
from leadbridge.core.policy import Mode, parse_policy
from tests.matching.helpers import NOW, lead, partner, policy, rng

# P-0 is nearest the lead (Munich) and each next one ~33 km further north; P-3 and P-4 are silver.
PARTNERS = [
    partner(f"P-{n}", location_latitude=48.14 + n * 0.3, tier="silver" if n >= 3 else "gold")
    for n in range(5)
]
BY_ID = {p.id: p for p in PARTNERS}


def test_given_open_pool_in_an_old_policy_when_read_then_it_is_the_pool() -> None:
    assert parse_policy({"version": 1, "distribution": {"mode": "open_pool"}}).distribution.mode is Mode.POOL


def test_given_pool_mode_when_a_round_starts_then_every_eligible_partner_gets_a_listing_for_the_window() -> (
    None
):
    pol = policy(distribution={"mode": "pool", "pool_size": 4, "pool_hours": 6})
    decision = match(lead(), PARTNERS, pol, {}, now=NOW, rng=rng())
    plan = plan_round(decision, lead(), pol, BY_ID, now=NOW)
    assert [s.partner_id for s in plan.create] == ["P-0", "P-1", "P-2", "P-3"]
    assert {s.deadline for s in plan.create} == {NOW + timedelta(hours=6)}
    assert all(s.mode == "pool" and s.preview and s.preview["stage"] == 1 for s in plan.create)
    first = plan.create[0].preview or {}
    assert first["distance_km"] is not None and first["distance_km"] < plan.create[3].preview["distance_km"]  # type: ignore[index]


def _hybrid(**pool: object) -> object:
    return policy(distribution={"mode": "hybrid", "pool_hours": 2, "pool": pool})


def test_given_hybrid_groups_when_split_then_each_partner_is_in_the_first_group_it_fits() -> None:
    pol = _hybrid(groups=[{"top": 1}, {"within_km": 80}, {"tiers": ["silver"]}, {}])
    decision = match(lead(), PARTNERS, pol, {}, now=NOW, rng=rng())  # type: ignore[arg-type]
    assert hybrid_groups(decision, BY_ID, pol) == [["P-0"], ["P-1", "P-2"], ["P-3", "P-4"], []]  # type: ignore[arg-type]


def test_given_hybrid_when_windows_pass_then_it_widens_group_by_group_and_then_falls_back() -> None:
    pol = _hybrid(groups=[{"top": 2}, {"tiers": ["silver"]}])
    item = lead()
    decision = match(item, PARTNERS, pol, {}, now=NOW, rng=rng())  # type: ignore[arg-type]
    plan = plan_round(decision, item, pol, BY_ID, now=NOW)  # type: ignore[arg-type]
    assert [s.partner_id for s in plan.create] == ["P-0", "P-1"]

    def listed(pid: str, stage: int, status: OfferStatus = OfferStatus.PENDING) -> Offer:
        return Offer(
            lead_id=item.id,
            partner_id=pid,
            mode="hybrid",
            status=status,
            decision={"preview": {"stage": stage}},
        )

    offers = [listed("P-0", 1), listed("P-1", 1)]
    assert next_stage(decision, offers, BY_ID, pol) == (2, ["P-3", "P-4"])  # type: ignore[arg-type]
    offers += [listed("P-3", 2), listed("P-4", 2)]
    assert next_stage(decision, offers, BY_ID, pol) is None  # type: ignore[arg-type]
    closed = [o.model_copy(update={"status": OfferStatus.EXPIRED}) for o in offers]
    refusal = on_refusal(decision, closed, item, pol, BY_ID, now=NOW)  # type: ignore[arg-type]
    assert refusal.action is Action.DIRECT_SALES and "pool" in refusal.reason


def test_given_hybrid_groups_nobody_fits_when_planned_then_the_fallback() -> None:
    pol = _hybrid(groups=[{"tiers": ["platinum"]}])
    decision = match(lead(), PARTNERS, pol, {}, now=NOW, rng=rng())  # type: ignore[arg-type]
    assert plan_round(decision, lead(), pol, BY_ID, now=NOW).action is Action.DIRECT_SALES  # type: ignore[arg-type]


def test_given_shark_tank_when_matched_then_every_eligible_partner_up_to_the_cap() -> None:
    everyone = match(lead(), PARTNERS, policy(distribution={"mode": "shark_tank"}), {}, now=NOW, rng=rng())
    assert everyone.chosen == [p.id for p in PARTNERS]
    capped = match(
        lead(),
        PARTNERS,
        policy(distribution={"mode": "shark_tank", "shark_tank_max": 2}),
        {},
        now=NOW,
        rng=rng(),
    )
    assert capped.chosen == ["P-0", "P-1"]


def test_given_a_group_partner_paused_since_the_decision_when_widening_then_it_is_left_out() -> None:
    pol = _hybrid(groups=[{"top": 1}, {"top": 2}, {}])
    decision = match(lead(), PARTNERS, pol, {}, now=NOW, rng=rng())  # type: ignore[arg-type]
    first = [Offer(lead_id="L", partner_id="P-0", mode="hybrid", decision={"preview": {"stage": 1}})]
    paused = {**BY_ID, "P-1": BY_ID["P-1"].model_copy(update={"active": False})}
    assert next_stage(decision, first, paused, pol, now=NOW) == (2, ["P-2"])  # type: ignore[arg-type]
    gone = {**paused, "P-2": BY_ID["P-2"].model_copy(update={"active": False})}
    assert next_stage(decision, first, gone, pol, now=NOW) == (3, ["P-3", "P-4"])  # type: ignore[arg-type]
