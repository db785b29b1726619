"""Distribution modes as pure planners: given a decision and the lead's offers, what happens next.

The persistence layer executes a ``Plan`` (create offers, withdraw offers, re-route, hand to direct
sales, nurture); nothing here touches the database.
- ``plan_round``: a new decision → its offers. ``assign`` and ``round_robin`` offer the one chosen
  partner (accepted on its behalf when ``distribution.auto_accept``); ``offer_n`` offers the top N at
  once; ``shark_tank`` offers every chosen partner at once; ``cascade`` offers the first of its
  ranked list; ``pool`` lists the lead in every chosen partner's pool for ``pool_hours`` as a blind
  preview (region, industry, size, products, score, distance — never a person or company);
  ``hybrid`` lists it in the first group's pools only (``pool_plan.py`` widens it later); a lead
  for direct sales goes there; a lead no partner may take gets the fallback.
- ``on_accept``: the first accept wins; every other pending offer of the lead is withdrawn.
- ``on_refusal`` (decline or expiry): while other offers of the round are pending, wait; in a
  cascade, offer the next partner of the ranked list who has not been offered the lead yet; a pool
  lead nobody claimed before its last window closed gets the fallback (its pool had its time);
  otherwise start the next round (``reroute``; the next ``match`` bars decliners, expirers and
  returners) or, after ``max_rounds``, the fallback.
- ``on_return``: the reason's action (policy ``returns`` overrides ``core/reasons.py``) decides:
  re-route (next round or fallback), nurture, or close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from leadbridge.core.matching.decision import Channel, Decision
from leadbridge.core.matching.pool_plan import first_group, pool_window_end
from leadbridge.core.model import Lead, Offer, OfferStatus
from leadbridge.core.partner import Partner, segment_for_employees
from leadbridge.core.policy import POOL_MODES, Fallback, Mode, Policy
from leadbridge.core.reasons import ReasonCatalog, ReturnAction
from leadbridge.core.sla import accept_deadline


class Action(StrEnum):
    OFFER = "offer"
    WAIT = "wait"
    DONE = "done"
    REROUTE = "reroute"
    DIRECT_SALES = "direct_sales"
    NURTURE = "nurture"
    CLOSE = "close"


@dataclass(frozen=True)
class OfferSpec:
    """One offer to create: to whom, in which round and mode, until when, and what it shows."""

    partner_id: str
    round: int
    mode: str
    deadline: datetime | None
    auto_accept: bool = False
    preview: dict[str, Any] | None = None


@dataclass(frozen=True)
class Plan:
    """What to do next for one lead. ``escalate``: tell the channel manager too."""

    action: Action
    reason: str = ""
    create: tuple[OfferSpec, ...] = ()
    withdraw: tuple[str, ...] = ()
    escalate: bool = False


def blind_preview(lead: Lead, score: float | None, distance_km: float | None = None) -> dict[str, Any]:
    """What a pool partner sees before claiming: never the person's or company's identity."""
    segment = segment_for_employees(lead.employees)
    address = lead.address
    return {
        "region": " ".join(part for part in (address.country, (address.postal_code or "")[:2]) if part),
        "industry": lead.industry,
        "size": segment.value if segment else None,
        "products": list(lead.product_interests),
        "score": round(score, 3) if score is not None else None,
        "distance_km": round(distance_km, 1) if distance_km is not None else None,
    }


def fallback_plan(policy: Policy, reason: str) -> Plan:
    """The policy's fallback once no partner can or will take the lead."""
    action = Action.DIRECT_SALES if policy.fallback is Fallback.DIRECT_SALES else Action.NURTURE
    return Plan(action, reason=f"fallback after {reason}", escalate="fallback" in policy.sla.escalate_on)


def next_round_or_fallback(current_round: int, policy: Policy, reason: str) -> Plan:
    """Re-route while rounds remain (``round < max_rounds``), else the fallback."""
    if current_round < policy.max_rounds:
        return Plan(Action.REROUTE, reason=f"{reason}; round {current_round + 1} of {policy.max_rounds}")
    return fallback_plan(policy, f"{reason} in the last round ({policy.max_rounds})")


def _spec(
    decision: Decision,
    partner_id: str,
    policy: Policy,
    partners: Mapping[str, Partner],
    now: datetime,
    lead: Lead,
    stage: int = 1,
) -> OfferSpec:
    mode = Mode(decision.mode)
    auto = policy.distribution.auto_accept and mode in (Mode.ASSIGN, Mode.ROUND_ROBIN)
    if mode.value in POOL_MODES:
        # A pool listing is open for the pool window (wall-clock), not for an accept-by deadline.
        candidate = decision.candidate(partner_id)
        preview = blind_preview(lead, *((candidate.score, candidate.distance_km) if candidate else (None,)))
        return OfferSpec(
            partner_id,
            decision.round,
            mode.value,
            pool_window_end(now, policy),
            preview={**preview, "stage": stage},
        )
    return OfferSpec(
        partner_id=partner_id,
        round=decision.round,
        mode=mode.value,
        deadline=None if auto else accept_deadline(now, policy.sla, partners.get(partner_id)),
        auto_accept=auto,
    )


def pool_listings(
    decision: Decision,
    partner_ids: Sequence[str],
    lead: Lead,
    policy: Policy,
    *,
    now: datetime,
    stage: int,
) -> tuple[OfferSpec, ...]:
    """Listings of ``lead`` in these partners' pools at ``stage`` (a hybrid pool widening)."""
    return tuple(_spec(decision, pid, policy, {}, now, lead, stage) for pid in partner_ids)


def plan_round(
    decision: Decision, lead: Lead, policy: Policy, partners: Mapping[str, Partner], *, now: datetime
) -> Plan:
    """The offers that start a round for ``decision`` (see the module rules)."""
    if decision.channel is Channel.DIRECT_SALES:
        return Plan(Action.DIRECT_SALES, reason=decision.reason)
    if decision.channel is Channel.NO_PARTNER or not decision.chosen:
        return fallback_plan(policy, f"no eligible partner in round {decision.round}")
    chosen, stage = decision.chosen, 1
    if decision.mode == Mode.CASCADE.value:
        chosen = chosen[:1]
    elif decision.mode == Mode.HYBRID.value:
        stage, chosen = first_group(decision, partners, policy)
        if not chosen:
            return fallback_plan(policy, "no eligible partner in any hybrid group")
    specs = tuple(_spec(decision, pid, policy, partners, now, lead, stage) for pid in chosen)
    return Plan(Action.OFFER, reason=decision.reason, create=specs)


def on_accept(offers: Sequence[Offer], accepted_offer_id: str) -> Plan:
    """First accept wins: withdraw every other pending offer of the lead."""
    others = tuple(o.id for o in offers if o.status is OfferStatus.PENDING and o.id != accepted_offer_id)
    return Plan(Action.DONE, reason=f"accepted via {accepted_offer_id}", withdraw=others)


def on_refusal(
    decision: Decision,
    offers: Sequence[Offer],
    lead: Lead,
    policy: Policy,
    partners: Mapping[str, Partner],
    *,
    now: datetime,
) -> Plan:
    """After a decline or expiry in ``decision``'s round: wait, cascade on, re-route or fall back."""
    this_round = [o for o in offers if o.round == decision.round]
    if any(o.status is OfferStatus.PENDING for o in this_round):
        return Plan(Action.WAIT, reason="other offers of this round are still open")
    if any(o.status is OfferStatus.ACCEPTED for o in offers):
        return Plan(Action.DONE, reason="already accepted")
    if Mode(decision.mode).value in POOL_MODES:
        return fallback_plan(policy, f"nobody claimed the lead from the pool in round {decision.round}")
    if decision.mode == Mode.CASCADE.value:
        offered = {o.partner_id for o in offers}
        for partner_id in decision.chosen:
            if partner_id not in offered:
                spec = _spec(decision, partner_id, policy, partners, now, lead)
                return Plan(Action.OFFER, reason="cascade: next partner", create=(spec,))
    return next_round_or_fallback(decision.round, policy, "every offer of the round was declined or expired")


def return_action(reason_code: str, policy: Policy, catalog: ReasonCatalog | None = None) -> ReturnAction:
    """What a return with ``reason_code`` leads to: the policy's ``returns`` map, else the catalog."""
    if reason_code in policy.returns:
        return policy.returns[reason_code]
    return (catalog or ReasonCatalog()).on_return(reason_code)


def on_return(
    reason_code: str, current_round: int, policy: Policy, catalog: ReasonCatalog | None = None
) -> Plan:
    """After a partner returned the lead: re-route (or fall back), nurture, or close."""
    action = return_action(reason_code, policy, catalog)
    if action is ReturnAction.REROUTE:
        return next_round_or_fallback(current_round, policy, f"returned ({reason_code})")
    if action is ReturnAction.NURTURE:
        return Plan(Action.NURTURE, reason=f"returned ({reason_code}): back to marketing")
    return Plan(Action.CLOSE, reason=f"returned ({reason_code}): closed")
