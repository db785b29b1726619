"""The demo's summary, and the check that nothing vanished on the way.

``lost`` counts leads that vanished anywhere: a qualified source record leadbridge never took in
(and did not quarantine), a lead whose home record does not show its current state, or a partner's
offer missing from that partner's org, portal, company or webhook endpoint. It must be 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, PartnerRow, QuarantineRow
from leadbridge.demo.world import HOME, HUBSPOT, DemoWorld

LABELS = {
    LeadState.ROUTING: "Routing", LeadState.OFFERED: "Offered", LeadState.ACCEPTED: "Accepted",
    LeadState.WORKING: "Working", LeadState.WON: "Won", LeadState.LOST: "Lost",
    LeadState.RETURNED: "Returned", LeadState.DIRECT: "Direct Sales", LeadState.NURTURE: "Nurture",
}  # fmt: skip


def _count_events(session: Any, kind: EventKind) -> int:
    query = select(func.count(func.distinct(LeadEventRow.lead_id))).where(LeadEventRow.kind == kind.value)
    return int(session.execute(query).scalar_one())


def summarise(world: DemoWorld, database: Database) -> dict[str, Any]:
    """Counts for people and scripts, and ``lost`` with the reasons (see the module docstring)."""
    home_records = world.home_records()
    qualified = {rid for rid, r in home_records.items() if r["qualified"]}
    problems: list[str] = []
    with database.transaction() as session:
        leads = list(session.execute(select(LeadRow).where(LeadRow.source_connection == HOME)).scalars())
        quarantined = set(
            session.execute(
                select(QuarantineRow.external_id).where(QuarantineRow.connection == HOME)
            ).scalars()
        )
        states: dict[str, int] = {}
        for lead in leads:
            states[lead.state] = states.get(lead.state, 0) + 1
        offers = list(session.execute(select(OfferRow)).scalars())
        connections = dict(session.execute(select(PartnerRow.id, PartnerRow.connection)).all())
        counts = {
            "routed": _count_events(session, EventKind.ROUTE),
            "accepted": _count_events(session, EventKind.ACCEPT),
            "declined": _count_events(session, EventKind.DECLINE),
            "returned": _count_events(session, EventKind.RETURN),
            "conflicts": _count_events(session, EventKind.CONFLICT),
        }
    taken = {lead.external_id for lead in leads}
    for record_id in sorted(qualified - taken - quarantined):
        problems.append(f"qualified record {record_id} was never taken in")
    written_back = waiting = 0
    for lead in leads:
        record = home_records.get(lead.external_id or "")
        # HubSpot's leadbridge_status carries the state itself; Salesforce's picklist its label
        expected = lead.state if world.home_kind == HUBSPOT else LABELS.get(LeadState(lead.state))
        if record is not None and lead.state in (LeadState.RECEIVED, LeadState.QUALIFIED):
            waiting += 1  # not routed yet: nothing to write back
        elif record is None or record["lead_id"] != lead.id:
            problems.append(f"lead {lead.id}: its home record does not carry its id")
        elif record["status"] != expected:
            problems.append(f"lead {lead.id}: home shows {record['status']}, state is {lead.state}")
        else:
            written_back += 1
    for connection, org in world.partner_orgs.items():
        there = {r.get("LeadBridge_Id__c") for r in org.records("Lead")}
        for offer in offers:
            if connections.get(offer.partner_id) == connection and offer.lead_id not in there:
                problems.append(f"offer {offer.id} is missing from {connection}'s org")
    for connection, portal in world.partner_portals.items():
        there = {r.properties.get("leadbridge_id") for r in portal.store("contacts").live()}
        for offer in offers:
            if connections.get(offer.partner_id) == connection and offer.lead_id not in there:
                problems.append(f"offer {offer.id} is missing from {connection}'s HubSpot portal")
    for connection, company in world.partner_companies.items():
        field = company.field_by_name("leadbridge_id")
        there = (
            {d["custom_fields"].get(field["key"]) for d in company.deals_with("leadbridge_id")}
            if field
            else set()
        )
        for offer in offers:
            if connections.get(offer.partner_id) == connection and offer.lead_id not in there:
                problems.append(f"offer {offer.id} is missing from {connection}'s Pipedrive company")
    for connection, environment in world.partner_environments.items():
        there = {row.get("new_leadbridgeid") for row in environment.records("leads")}
        for offer in offers:
            if connections.get(offer.partner_id) == connection and offer.lead_id not in there:
                problems.append(f"offer {offer.id} is missing from {connection}'s Dynamics environment")
    for connection, received in world.hook_inboxes.items():
        got = {e["data"].get("offer_id") for e in received.events if e.get("type") == "lead.offered"}
        for offer in offers:
            if connections.get(offer.partner_id) == connection and offer.id not in got:
                problems.append(f"offer {offer.id} never reached {connection}'s webhook endpoint")
    return {
        "leads_in_source": len(home_records),
        "qualified_in_source": len(qualified),
        "leads_pulled": len(leads),
        "quarantined": len(quarantined),
        **{"routed": counts["routed"], "offered": len(offers), "accepted": counts["accepted"]},
        "declined": counts["declined"],
        "returned": counts["returned"],
        "won": states.get(LeadState.WON, 0),
        "deals_lost": states.get(LeadState.LOST, 0),
        "working": states.get(LeadState.WORKING, 0),
        "waiting_for_routing": waiting,
        "conflicts": counts["conflicts"],
        "written_back": written_back,
        "lost": len(problems),
        "lost_details": problems[:20],
        "states": dict(sorted(states.items())),
    }
