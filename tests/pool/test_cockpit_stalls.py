"""The cockpit's SLA page lists stalls (held leads without partner activity) beside acceptance breaches."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import LeadEventRow
from tests.web.conftest import World, csrf_from


def test_a_worked_lead_without_partner_activity_for_stall_days_is_listed_as_stalled(world: World) -> None:
    client = world.partner_client(world.user_a)
    client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": csrf_from(client, "/inbox")})
    token = csrf_from(client, f"/inbox/leads/{world.lead_a}")
    client.post(f"/inbox/leads/{world.lead_a}/status", data={"csrf_token": token, "status": "contacted"})
    admin = world.admin_client()
    assert "stalled" not in admin.get("/cockpit/sla").text

    with world.database.transaction() as session:  # the partner's last word was 15 days ago
        session.execute(
            update(LeadEventRow)
            .where(LeadEventRow.lead_id == world.lead_a)
            .values(occurred_at=utcnow() - timedelta(days=15))
        )
    sla = admin.get("/cockpit/sla").text
    assert world.lead_a in sla and "stalled: no partner activity for 14 days" in sla
    assert sla.count("stalled: no partner activity") == 1  # lead b is only offered: no stall
