"""The engine's steps run by the embedded scheduler against sandbox orgs: leads flow without a cycle call."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from leadbridge.core.store.database import Database
from leadbridge.jobs.embedded import EmbeddedScheduler
from leadbridge.ops.snapshot import take_snapshot
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync import work
from leadbridge.sync.steps import ROUTE_LEAD
from tests.connectors.sandbox_salesforce import add_leads
from tests.jobs.pipeline import audit, partners_act, wait_for
from tests.sync.routers import round_robin_router
from tests.sync.world import World, a_world


def by_lead_id(org) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    return {r["LeadBridge_Id__c"]: r for r in org.records("Lead") if r.get("LeadBridge_Id__c")}


@pytest.fixture
def world(database: Database) -> Iterator[World]:
    with a_world(database) as found:
        yield found


def round_robin_runtime(world: World) -> Runtime:
    """A runtime on the world whose routing step runs the deterministic stand-in router."""
    route = work.route_step(lambda ctx, _deadline: (round_robin_router(ctx.database), False))
    return build_runtime(world.settings, steps=work.step_table().replace(**{ROUTE_LEAD: route}))


def test_given_the_embedded_scheduler_then_new_leads_reach_partners_and_home_shows_them(
    world: World, database: Database
) -> None:
    ids = add_leads(world.home, 12, same_stamp=True)
    for connection in world.settings.connections.values():
        connection.poll_seconds = 1
    scheduler = EmbeddedScheduler(round_robin_runtime(world), workers=2).start()
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            copies = {**by_lead_id(world.partner_orgs["p1"]), **by_lead_id(world.partner_orgs["p2"])}
            home = [r for r in world.home.records("Lead") if r["Id"] in ids]
            if len(copies) == 12 and all(r.get("LeadBridge_Status__c") == "Offered" for r in home):
                break
            time.sleep(0.2)
        assert len(copies) == 12
        assert all(r.get("LeadBridge_Status__c") == "Offered" for r in home)
        snap = take_snapshot(database)
        assert snap.leads_by_state == {"offered": 12}
        assert "home" in snap.last_sync and "p1" in snap.last_sync

        expected = partners_act(world)  # partners accept, win and lose in their own orgs

        def settled() -> bool:
            states = {r.id: r.state for r in world.leads()}
            return states == expected and take_snapshot(database).outbox_depth == 0

        assert wait_for(settled, timeout=30), take_snapshot(database).as_dict()
        assert wait_for(lambda: audit(world, ids, expected).mismatched == 0, timeout=15)
        result = audit(world, ids, expected)
        assert (result.leads, result.lost, result.duplicated, result.mismatched) == (12, 0, 0, 0), result
    finally:
        scheduler.stop(10)


def test_given_the_real_router_then_the_embedded_scheduler_offers_new_leads_to_matching_partners(
    database: Database,
) -> None:
    with a_world(database) as world:
        add_leads(world.home, 6, same_stamp=True)
        scheduler = EmbeddedScheduler(build_runtime(world.settings), workers=2).start()
        try:

            def delivered() -> bool:
                held = set(by_lead_id(world.partner_orgs["p1"])) | set(by_lead_id(world.partner_orgs["p2"]))
                return len(held) == 6 and take_snapshot(database).outbox_depth == 0

            assert wait_for(delivered, timeout=30), take_snapshot(database).as_dict()
            assert set(take_snapshot(database).leads_by_state) <= {"offered", "accepted"}
        finally:
            scheduler.stop(10)
