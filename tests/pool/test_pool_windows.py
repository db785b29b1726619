"""Pool windows through the SLA tick: a hybrid pool widens, then falls back; stall reclaim.

The liveness case drives many pool leads with a simulated clock, ticking the way the scheduler does,
and checks after every tick that no lead is in a pool past its policy.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from leadbridge.core.leads import LeadService
from leadbridge.core.model import utcnow
from leadbridge.core.policy import parse_policy
from leadbridge.core.pool import PartnerPool
from leadbridge.core.pool_tick import due_pool_windows, due_reclaims
from leadbridge.core.sla_tick import sla_tick
from leadbridge.core.store.tables import OfferRow
from tests.pool.helpers import api, pooled_lead, state_of, use_policy
from tests.web.conftest import World

T0 = utcnow()


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def listed(world: World, lead_id: str) -> set[str]:
    with world.database.transaction() as session:
        rows = session.execute(
            select(OfferRow.partner_id).where(OfferRow.lead_id == lead_id, OfferRow.status == "pending")
        ).scalars()
        return set(rows)


def test_given_a_hybrid_pool_when_nobody_claims_then_it_widens_to_the_next_group_then_falls_back(
    world: World,
) -> None:
    policy = use_policy(world, mode="hybrid", pool_hours=2, pool={"groups": [{"top": 1}, {}]})
    lead = pooled_lead(world, policy, clock=lambda: at(0))
    first = listed(world, lead["id"])
    assert len(first) == 1  # the best partner only
    (outsider,) = {world.partner_a, world.partner_b} - first
    assert lead["id"] not in api(world, outsider).get("/api/v1/partner/pool").text

    assert sla_tick(world.database, policy=policy, clock=lambda: at(1.5)).pool_widened == 0
    widened = sla_tick(world.database, policy=policy, clock=lambda: at(2.1))
    assert widened.pool_widened == 1 and listed(world, lead["id"]) == {world.partner_a, world.partner_b}
    with world.database.transaction() as session:  # the outsider sees it now, with a fresh window
        (item,) = [i for i in PartnerPool(session, outsider, "t", policy, clock=lambda: at(2.2)).items()]
    assert item.lead_id == lead["id"] and item.window_ends_at == at(4.1)

    closed = sla_tick(world.database, policy=policy, clock=lambda: at(4.2))
    assert closed.pool_closed == 1 and listed(world, lead["id"]) == set()
    assert state_of(world, lead["id"]) == ("direct", None)  # the default fallback: direct sales


def test_liveness_no_lead_stays_in_a_pool_past_its_policy(world: World) -> None:
    """Pool and hybrid leads, nobody claims; the tick runs every 20 simulated minutes. After every
    tick no listing is past its window, and each lead leaves the pool by stages × pool_hours."""
    hours = 1.0
    pool_policy = use_policy(world, mode="pool", pool_hours=hours)
    hybrid_policy = use_policy(world, mode="hybrid", pool_hours=hours, pool={"groups": [{"top": 1}, {}]})
    leads = {pooled_lead(world, pool_policy, clock=lambda: at(0), n=f"p{n}")["id"]: 1 for n in range(3)}
    leads |= {pooled_lead(world, hybrid_policy, clock=lambda: at(0), n=f"h{n}")["id"]: 2 for n in range(3)}
    left_at: dict[str, float] = {}
    step = 1 / 3
    for tick in range(1, 13):
        now = tick * step
        # the policy now in force (hybrid); the pool leads keep their own mode from their decision
        sla_tick(world.database, policy=hybrid_policy, clock=lambda now=now: at(now))
        with world.database.transaction() as session:
            assert due_pool_windows(session, at(now)) == []  # nothing overdue after a tick
        for lead_id, stages in leads.items():
            if lead_id not in left_at and not listed(world, lead_id):
                left_at[lead_id] = now
                assert now >= stages * hours, f"{lead_id} left the pool early, at {now:.2f} h"
            if lead_id not in left_at:
                assert now < stages * hours + step, f"{lead_id} still in the pool at {now:.2f} h"
    assert set(left_at) == set(leads)
    assert all(state_of(world, lead_id)[0] == "direct" for lead_id in leads)


def test_given_reclaim_when_no_first_contact_in_time_then_the_lead_goes_back_to_the_pool_without_its_holder(
    world: World,
) -> None:
    policy = use_policy(
        world, mode="pool", pool_hours=48, sla={"on_breach": "reclaim", "first_contact_hours": 24}
    )
    lead = pooled_lead(world, policy, clock=lambda: at(0))
    with world.database.transaction() as session:
        PartnerPool(session, world.partner_a, "t", policy, clock=lambda: at(1)).claim(lead["id"])

    with world.database.transaction() as session:  # the due-work query the reconcile sweep can run
        assert due_reclaims(session, at(20), policy) == []
        assert due_reclaims(session, at(25.5), policy) == [lead["id"]]
        assert due_reclaims(session, at(25.5), parse_policy({"version": 1})) == []  # escalate only
    assert sla_tick(world.database, policy=policy, clock=lambda: at(20)).reclaimed == 0
    summary = sla_tick(world.database, policy=policy, clock=lambda: at(25.5))
    assert summary.reclaimed == 1
    with world.database.transaction() as session:
        events = LeadService(session).events(lead["id"])
    back = next(e for e in events if e.kind == "return")
    assert back.actor == "sla" and back.partner_id == world.partner_a
    assert back.payload["reason_code"] == "sla_first_contact_overdue"
    assert any(e.kind == "escalate" and e.payload["reason"] == "first_contact_overdue" for e in events)
    # re-listed in the pool of the others, never its former holder
    assert state_of(world, lead["id"]) == ("offered", None)
    assert listed(world, lead["id"]) == {world.partner_b}
    assert lead["id"] not in api(world, world.partner_a).get("/api/v1/partner/pool").text
    assert sla_tick(world.database, policy=policy, clock=lambda: at(26)).reclaimed == 0  # once


def test_given_reclaim_when_a_worked_lead_stalls_then_it_is_taken_back(world: World) -> None:
    policy = use_policy(world, mode="pool", pool_hours=48, sla={"on_breach": "reclaim", "stall_days": 3})
    lead = pooled_lead(world, policy, clock=lambda: at(0))
    alpha = api(world, world.partner_a)
    assert alpha.post(f"/api/v1/partner/pool/{lead['id']}/claim").status_code == 200
    assert (
        alpha.post(f"/api/v1/partner/leads/{lead['id']}/status", json={"status": "contacted"}).status_code
        == 200
    )
    with world.database.transaction() as session:
        assert due_reclaims(session, utcnow() + timedelta(days=2), policy) == []
        assert due_reclaims(session, utcnow() + timedelta(days=3, hours=1), policy) == [lead["id"]]
    assert sla_tick(world.database, policy=policy, clock=lambda: utcnow() + timedelta(days=2)).reclaimed == 0
    summary = sla_tick(world.database, policy=policy, clock=lambda: utcnow() + timedelta(days=3, hours=1))
    assert summary.reclaimed == 1
    with world.database.transaction() as session:
        reasons = [
            e.payload.get("reason_code")
            for e in LeadService(session).events(lead["id"])
            if e.kind == "return"
        ]
    assert reasons == ["sla_stalled"]


def test_given_the_default_escalate_only_when_the_first_contact_is_overdue_then_the_lead_stays(
    world: World,
) -> None:
    policy = use_policy(world, mode="pool", pool_hours=48)
    lead = pooled_lead(world, policy, clock=lambda: at(0))
    with world.database.transaction() as session:
        PartnerPool(session, world.partner_a, "t", policy, clock=lambda: at(1)).claim(lead["id"])
    summary = sla_tick(world.database, policy=policy, clock=lambda: at(30))
    assert summary.reclaimed == 0 and summary.escalated == 1
    assert state_of(world, lead["id"]) == ("accepted", world.partner_a)
