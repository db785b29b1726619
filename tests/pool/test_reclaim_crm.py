"""A reclaim reaches the partner: its CRM copy is closed (Salesforce sandbox), its users get a mail."""

from __future__ import annotations

import time
from datetime import timedelta

from leadbridge.core.policy import parse_policy
from leadbridge.core.sla_tick import sla_tick
from leadbridge.core.store.database import Database
from leadbridge.notify.dispatch import send_due
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from leadbridge.web.accounts import create_partner_user
from tests.connectors.sandbox_salesforce import add_leads, update_lead
from tests.sync.test_cycle import by_lead_id, cycle
from tests.sync.world import a_world
from tests.web.conftest import SmtpServer

# One second for the first contact: the tick runs on the real clock, so the rows it queues are due
# for the next cycle at once.
RECLAIM = parse_policy(
    {
        "version": 1,
        "sla": {"on_breach": "reclaim", "first_contact_hours": 1 / 3600, "use_business_hours": False},
    }
)


def test_given_a_crm_partner_misses_first_contact_then_its_record_is_closed_and_its_users_told(
    database: Database, smtp_server: SmtpServer
) -> None:
    with a_world(database) as world:
        add_leads(world.home, 1, same_stamp=False)
        cycle(world)
        holder = next(name for name, org in world.partner_orgs.items() if by_lead_id(org))
        (copy,) = by_lead_id(world.partner_orgs[holder]).values()
        update_lead(world.partner_orgs[holder], copy["Id"], {"Status": "Accepted"})
        cycle(world)
        assert (
            by_lead_id(world.partner_orgs[holder])[copy["LeadBridge_Id__c"]]["LeadBridge_Status__c"]
            == "Accepted"
        )
        with database.transaction() as session:
            create_partner_user(session, world.partner_ids[holder], "sales@holder.example")

        time.sleep(1.1)
        summary = sla_tick(database, policy=RECLAIM)
        assert summary.reclaimed == 1
        cycle(world)
        closed = by_lead_id(world.partner_orgs[holder])[copy["LeadBridge_Id__c"]]
        assert closed["LeadBridge_Status__c"] == "Withdrawn"
        others = [org for name, org in world.partner_orgs.items() if name != holder]
        assert any(copy["LeadBridge_Id__c"] in by_lead_id(org) for org in others)  # offered on

        mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
        send_due(Notifier(database, world.settings, mailer), settle=timedelta(0))
        (told,) = [m for m in smtp_server.messages if m["To"] == "sales@holder.example"]
        assert told["Subject"].startswith("Lead taken back")
        assert "no first contact in time" in told.get_payload()
