"""Manufacturer-side extras: a Task per partner status change, owner assignment for direct sales,
and Outbound Message webhooks parsed into changes."""

from __future__ import annotations

from sqlalchemy import select

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from tests.connectors.sandbox_salesforce import add_leads, sandbox_connector, update_lead
from tests.sync.routers import round_robin_router
from tests.sync.world import a_world

OUTBOUND_MESSAGE = b"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
  xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound"><OrganizationId>00D000000000001</OrganizationId>
<Notification><Id>04l000000000001</Id><sObject xsi:type="sf:Lead"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><sf:Id>00Q000000000001AAA</sf:Id>
<sf:LastName>Muster</sf:LastName><sf:SystemModstamp>2026-01-05T10:00:00.000Z</sf:SystemModstamp></sObject>
</Notification></notifications></soapenv:Body></soapenv:Envelope>"""


def direct_first_then_round_robin(database: Database) -> int:
    """The first lead (by id) goes to direct sales; the rest are offered round robin."""
    with database.transaction() as session:
        first = session.execute(
            select(LeadRow.id).where(LeadRow.state == "qualified").order_by(LeadRow.external_id)
        ).scalar()
        if first is not None:
            LeadService(session).apply(
                first, EventKind.DIRECT, actor="router", idempotency_key=f"direct:{first}"
            )
    return round_robin_router(database) + (first is not None)


def test_given_tasks_and_a_sales_owner_configured_then_home_gets_tasks_and_the_owner(
    database: Database,
) -> None:
    with a_world(database, partners=1) as world:
        owner = world.home.create(
            "User",
            {
                "Username": "sales@x.example",
                "LastName": "Sales",
                "Email": "sales@x.example",
                "Alias": "sales",
            },
        )
        world.settings.connections["home"].create_tasks = True  # type: ignore[attr-defined]
        direct_id, offered_id = sorted(add_leads(world.home, 2, same_stamp=True))
        world.engine(router=direct_first_then_round_robin, direct_sales_owner_id=owner).run()
        home = {r["Id"]: r for r in world.home.records("Lead")}
        assert home[direct_id]["LeadBridge_Status__c"] == "Direct Sales"
        assert home[direct_id]["OwnerId"] == owner
        copy = next(r for r in world.partner_orgs["p1"].records("Lead") if r.get("LeadBridge_Id__c"))
        update_lead(world.partner_orgs["p1"], copy["Id"], {"Status": "Closed - Converted"})
        world.engine(router=direct_first_then_round_robin, direct_sales_owner_id=owner).run()
        tasks = [t for t in world.home.records("Task") if t.get("WhoId") == offered_id]
        assert len(tasks) == 1  # accept and win in one pull: one coalesced Task
        assert "accept" in tasks[0]["Subject"] and "win" in tasks[0]["Subject"]
        assert home[offered_id]["OwnerId"] != owner  # only direct-sales leads change owner


def test_given_an_outbound_message_then_it_becomes_a_change(database: Database) -> None:
    with a_world(database, partners=0) as world:
        connector = sandbox_connector(world.home, world.box.ca_file, name="home")
        (change,) = connector.parse_webhook({}, OUTBOUND_MESSAGE)
        assert (change.external_id, change.stamp) == ("00Q000000000001AAA", "2026-01-05T10:00:00.000Z")
        assert change.record["LastName"] == "Muster"
