"""Distribution modes as planners: offers to create and withdraw, cascades, rounds and fallback."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leadbridge.core.matching import match
from leadbridge.core.matching.decision import Channel, Decision
from leadbridge.core.matching.modes import (
    Action,
    blind_preview,
    on_accept,
    on_refusal,
    on_return,
    plan_round,
    return_action,
)
from leadbridge.core.model import Offer, OfferStatus
from leadbridge.core.reasons import ReturnAction
from tests.matching.helpers import NOW, lead, partner, policy, rng

PARTNERS = [partner(f"P-{n}", location_latitude=48.14 + n * 0.3) for n in range(5)]
BY_ID = {p.id: p for p in PARTNERS}


def decide(mode: str, **distribution: object) -> tuple[Decision, object]:
    pol = policy(distribution={"mode": mode, **distribution})
    item = lead()
    return match(item, PARTNERS, pol, {}, now=NOW, rng=rng()), pol


@pytest.mark.parametrize(
    ("mode", "extra", "offered"),
    [
        ("assign", {}, ["P-0"]),
        ("round_robin", {"tie_margin": 0.0}, ["P-0"]),
        ("offer_n", {"offer_n": 3}, ["P-0", "P-1", "P-2"]),
        ("cascade", {"cascade_length": 4}, ["P-0"]),
        ("shark_tank", {"shark_tank_max": 4}, ["P-0", "P-1", "P-2", "P-3"]),
    ],
)
def test_given_a_mode_when_a_round_starts_then_these_partners_get_offers(
    mode: str, extra: dict, offered: list
) -> None:
    decision, pol = decide(mode, **extra)
    plan = plan_round(decision, lead(), pol, BY_ID, now=NOW)  # type: ignore[arg-type]
    assert plan.action is Action.OFFER
    assert [spec.partner_id for spec in plan.create] == offered
    assert all(spec.mode == mode and spec.round == 1 for spec in plan.create)
    assert all(spec.deadline == NOW + timedelta(hours=8) for spec in plan.create)  # no business hours


def test_given_auto_accept_when_assigning_then_the_offer_is_accepted_on_the_partners_behalf() -> None:
    decision, pol = decide("assign", auto_accept=True)
    (spec,) = plan_round(decision, lead(), pol, BY_ID, now=NOW).create  # type: ignore[arg-type]
    assert spec.auto_accept and spec.deadline is None


def test_given_a_pool_when_listed_then_the_preview_is_blind() -> None:
    item = lead(company="Geheim GmbH", first_name="Eva", last_name="Secret", email="eva@geheim.example")
    preview = blind_preview(item, 7.123456, 12.345)
    assert preview == {
        "region": "DE 80",
        "industry": "construction",
        "size": "smb",
        "products": ["heat_pumps"],
        "score": 7.123,
        "distance_km": 12.3,
    }
    text = str(preview)
    assert all(secret not in text for secret in ("Geheim", "Eva", "Secret", "eva@"))


def test_given_direct_or_no_partner_when_planned_then_direct_sales_or_fallback() -> None:
    direct, pol = decide("direct")
    assert plan_round(direct, lead(), pol, BY_ID, now=NOW).action is Action.DIRECT_SALES  # type: ignore[arg-type]
    nobody = Decision("L", "p", 1, "assign", Channel.NO_PARTNER, "none", NOW)
    assert plan_round(nobody, lead(), policy(fallback="nurture"), BY_ID, now=NOW).action is Action.NURTURE
    plan = plan_round(nobody, lead(), policy(), BY_ID, now=NOW)
    assert plan.action is Action.DIRECT_SALES and plan.escalate


def offer(pid: str, status: OfferStatus, round: int = 1) -> Offer:
    return Offer(id=f"O-{pid}", lead_id="L", partner_id=pid, round=round, status=status)


def test_given_offer_n_when_one_accepts_then_the_others_are_withdrawn() -> None:
    offers = [
        offer("P-0", OfferStatus.ACCEPTED),
        offer("P-1", OfferStatus.PENDING),
        offer("P-2", OfferStatus.DECLINED),
    ]
    plan = on_accept(offers, "O-P-0")
    assert plan.action is Action.DONE and plan.withdraw == ("O-P-1",)


def test_given_offer_n_when_one_declines_and_others_pending_then_wait() -> None:
    decision, pol = decide("offer_n")
    offers = [offer("P-0", OfferStatus.DECLINED), offer("P-1", OfferStatus.PENDING)]
    assert on_refusal(decision, offers, lead(), pol, BY_ID, now=NOW).action is Action.WAIT  # type: ignore[arg-type]


def test_given_a_cascade_when_partners_refuse_then_the_next_untried_partner_is_offered() -> None:
    decision, pol = decide("cascade", cascade_length=3)
    offers = [offer("P-0", OfferStatus.DECLINED)]
    plan = on_refusal(decision, offers, lead(), pol, BY_ID, now=NOW)  # type: ignore[arg-type]
    assert [s.partner_id for s in plan.create] == ["P-1"]
    offers += [offer("P-1", OfferStatus.EXPIRED), offer("P-2", OfferStatus.DECLINED)]
    assert on_refusal(decision, offers, lead(), pol, BY_ID, now=NOW).action is Action.REROUTE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("round", "max_rounds", "fallback", "action"),
    [
        (1, 3, "direct_sales", Action.REROUTE),
        (2, 3, "direct_sales", Action.REROUTE),
        (3, 3, "direct_sales", Action.DIRECT_SALES),
        (1, 1, "nurture", Action.NURTURE),
    ],
)
def test_given_a_round_refused_when_planned_then_reroute_until_max_rounds_then_fallback(
    round: int, max_rounds: int, fallback: str, action: Action
) -> None:
    pol = policy(max_rounds=max_rounds, fallback=fallback)
    decision = Decision("L", "p", 1, "assign", Channel.PARTNER, "", NOW, round=round, chosen=["P-0"])
    plan = on_refusal(decision, [offer("P-0", OfferStatus.EXPIRED, round)], lead(), pol, BY_ID, now=NOW)
    assert plan.action is action


def test_given_a_rerouted_lead_when_matched_again_then_refusers_are_excluded() -> None:
    from leadbridge.core.matching import history_from_offers

    offers = [
        offer("P-0", OfferStatus.DECLINED),
        offer("P-1", OfferStatus.EXPIRED),
        offer("P-2", OfferStatus.RETURNED),
    ]
    decision = match(lead(), PARTNERS, policy(), {}, now=NOW, rng=rng(), history=history_from_offers(offers))
    assert decision.round == 2
    assert decision.best == "P-3"
    assert not {"P-0", "P-1", "P-2"} & {c.partner_id for c in decision.candidates}


@pytest.mark.parametrize(
    ("reason", "returns", "round", "action"),
    [
        ("no_capacity", {}, 1, Action.REROUTE),
        ("no_capacity", {}, 3, Action.DIRECT_SALES),
        ("not_a_lead", {}, 1, Action.NURTURE),
        ("duplicate", {}, 1, Action.CLOSE),
        ("not_a_lead", {"not_a_lead": "reroute"}, 1, Action.REROUTE),
    ],
)
def test_given_a_return_reason_when_planned_then_reroute_nurture_or_close(
    reason: str, returns: dict, round: int, action: Action
) -> None:
    assert on_return(reason, round, policy(returns=returns)).action is action


def test_given_an_unknown_return_reason_when_planned_then_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown return reason 'bored'"):
        return_action("bored", policy())
    assert return_action("no_fit", policy()) is ReturnAction.REROUTE
