"""Simulated partners: they claim, decline, work, win, lose and return the leads offered to them.

Partners with their own Salesforce org act there, through a real simple-salesforce client (a query,
then sObject Collections updates of the Lead's ``Status``, reason and amount) — exactly what leadbridge
later reads back. Partners with a HubSpot portal act there as a user would in HubSpot's UI: the
contact's ``hs_lead_status`` (``CONNECTED`` accepts, ``UNQUALIFIED`` declines, ``IN_PROGRESS``) and
the ``leadbridge_outcome`` / ``_reason`` / ``_amount`` / ``_close_date`` properties (the table in
``connectors/hubspot/BEHAVIOR.md``). Partners with a Pipedrive company act on the offer's deal as a
Pipedrive user would: the label *Accepted* accepts, a deal lost before accepting declines (its lost
reason), moving it to the second stage is working, won (with its value) and lost (with its lost
reason) end it (``connectors/pipedrive/BEHAVIOR.md``); they never return a lead. Partners with a
Dynamics 365 environment answer in the lead's ``new_partnerstatus`` choice (Accepted, Declined,
Working, Won with ``new_leadbridgeexpectedrevenue``, Lost or Returned with ``new_leadbridgereason``:
``connectors/dynamics/BEHAVIOR.md``), as a user would on the lead form. Inbox partners act
through the hosted inbox's own actions (``PartnerInbox``). Webhook partners act on what their
endpoint received (``demo/hooks.py``: offers from ``lead.offered``, held leads from ``lead.accepted``)
through the same actions the REST API calls.

Each step is decided by a seeded roll per (lead, partner, step), so a run is reproducible and a lead
declined by one partner is not automatically declined by the next.
"""

from __future__ import annotations

import random
from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from leadbridge.connectors.inbox.actions import PartnerInbox
from leadbridge.connectors.inbox.inputs import (
    DeclineInput,
    LoseInput,
    ReturnInput,
    StatusInput,
    WinInput,
    WorkStatus,
)
from leadbridge.core.errors import ConflictError, NotFound
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import OfferStatus
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OfferRow, PartnerRow
from leadbridge.demo.world import INBOX, DemoWorld
from leadbridge.sandbox.clients import salesforce_client

NEW = "Open - Not Contacted"
ACCEPTED, WORKING, DECLINED, RETURNED = "Accepted", "Working - Contacted", "Declined", "Returned"
WON, LOST = "Closed - Converted", "Closed - Not Converted"


def next_step(seed: int, lead_id: str, partner: str, status: str | None) -> dict[str, Any] | None:
    """What the partner does next with a lead whose status in its CRM is ``status`` (None: nothing)."""
    rng = random.Random(f"{seed}|{lead_id}|{partner}|{status}")
    roll = rng.random()
    if status == NEW:
        return (
            {"Status": DECLINED, "LeadBridge_Reason__c": "no_capacity"}
            if roll < 0.15
            else {"Status": ACCEPTED}
        )
    if status == ACCEPTED:
        if roll < 0.08:
            return {"Status": RETURNED, "LeadBridge_Reason__c": "no_fit"}
        if roll < 0.45:
            return {"Status": WON, "LeadBridge_Expected_Revenue__c": float(rng.randrange(4_000, 60_000, 500))}
        if roll < 0.62:
            return {"Status": LOST, "LeadBridge_Reason__c": "lost_to_competitor"}
        return {"Status": WORKING}
    if status == WORKING and roll < 0.5:
        return {"Status": WON, "LeadBridge_Expected_Revenue__c": float(rng.randrange(4_000, 60_000, 500))}
    return None


# A HubSpot contact's lead status as the Salesforce-worded step it stands for, and back.
_HUBSPOT_STATUS = {"NEW": NEW, "CONNECTED": ACCEPTED, "IN_PROGRESS": WORKING}


def hubspot_step(step: dict[str, Any]) -> dict[str, str]:
    """A ``next_step`` in HubSpot's words (module rules)."""
    status, reason = step["Status"], step.get("LeadBridge_Reason__c") or ""
    if status == DECLINED:
        return {"hs_lead_status": "UNQUALIFIED", "leadbridge_reason": reason}
    if status in (ACCEPTED, WORKING):
        return {"hs_lead_status": "CONNECTED" if status == ACCEPTED else "IN_PROGRESS"}
    if status == WON:
        amount = step["LeadBridge_Expected_Revenue__c"]
        return {"leadbridge_outcome": "won", "leadbridge_amount": f"{amount:.2f}"}
    return {"leadbridge_outcome": "returned" if status == RETURNED else "lost", "leadbridge_reason": reason}


# What a Pipedrive partner does for a step (labels by name; ``edit_as_user`` resolves them).
WORKING_STAGE = 2
_PIPEDRIVE_REASON = {
    "no_capacity": "No capacity",
    "lost_to_competitor": "Lost to competitor",
    "no_fit": "No fit",
}


def pipedrive_status(deal: dict[str, Any], labels: set[str]) -> str | None:
    """The Salesforce-worded status a Pipedrive deal stands for (None: closed or taken back)."""
    if deal["status"] != "open" or "Withdrawn" in labels or "Declined" in labels:
        return None
    if "Accepted" not in labels:
        return NEW
    return WORKING if deal.get("stage_id") == WORKING_STAGE else ACCEPTED


def pipedrive_step(step: dict[str, Any], labels: set[str]) -> dict[str, Any] | None:
    """A ``next_step`` in Pipedrive's words (module rules); ``None`` for a return (no such gesture)."""
    status, reason = step["Status"], _PIPEDRIVE_REASON.get(step.get("LeadBridge_Reason__c") or "", "No fit")
    if status == DECLINED:
        return {"status": "lost", "lost_reason": reason}
    if status == ACCEPTED:
        return {"labels": sorted(labels | {"Accepted"})}
    if status == WORKING:
        return {"stage_id": WORKING_STAGE}
    if status == WON:
        return {"status": "won", "value": step["LeadBridge_Expected_Revenue__c"]}
    if status == LOST:
        return {"status": "lost", "lost_reason": reason}
    return None


# A Dynamics partner's answer (the new_partnerstatus choice) as the step it stands for, and back.
DYNAMICS_CHOICES = {ACCEPTED: 100000000, DECLINED: 100000001, WORKING: 100000002}
DYNAMICS_CHOICES |= {WON: 100000003, LOST: 100000004, RETURNED: 100000005}
_DYNAMICS_OPEN = {None: NEW, 100000000: ACCEPTED, 100000002: WORKING}


def dynamics_step(step: dict[str, Any]) -> dict[str, Any]:
    """A ``next_step`` in the columns of a Dynamics partner's lead (module rules)."""
    status = step["Status"]
    change: dict[str, Any] = {"new_partnerstatus": DYNAMICS_CHOICES[status]}
    if step.get("LeadBridge_Reason__c"):
        change["new_leadbridgereason"] = step["LeadBridge_Reason__c"]
    if status == WON:
        change["new_leadbridgeexpectedrevenue"] = step["LeadBridge_Expected_Revenue__c"]
    return change


class Partners:
    """All simulated partners of the demo world."""

    def __init__(self, world: DemoWorld, database: Database, seed: int) -> None:
        self.world, self.database, self.seed = world, database, seed
        self.api_calls = 0
        self.hook_steps: set[tuple[str, str]] = set()  # (offer or lead id, status) a hook partner acted on

    def act(self) -> Counter[str]:
        """One round: every partner takes the next step on each lead it has (returns the statuses set)."""
        done: Counter[str] = Counter()
        for connection, org in self.world.partner_orgs.items():
            done += self._act_in_org(connection, org)
        for connection, portal in self.world.partner_portals.items():
            done += self._act_in_portal(connection, portal)
        for connection, company in self.world.partner_companies.items():
            done += self._act_in_company(connection, company)
        for connection, received in self.world.hook_inboxes.items():
            done += self._act_on_hooks(connection, received)
        for connection, environment in self.world.partner_environments.items():
            done += self._act_in_environment(connection, environment)
        done += self._act_in_inbox()
        return done

    def _act_on_hooks(self, connection: str, received: Any) -> Counter[str]:
        """A webhook partner answers what its endpoint was told (module rules)."""
        done: Counter[str] = Counter()
        partner_id = next(p.id for p in self.world.partners if p.connection == connection)
        with received.lock:
            work = [(offer_id, NEW) for offer_id in sorted(received.offers)]
            work += [
                (lead_id, ACCEPTED if k == "accepted" else WORKING)
                for lead_id, k in sorted(received.leads.items())
            ]
        for subject, status in work:
            step = next_step(self.seed, subject, connection, status)
            if step is None or (subject, step["Status"]) in self.hook_steps:
                continue
            self.hook_steps.add((subject, step["Status"]))
            offer_id, lead_id = (subject, "") if status == NEW else (None, subject)
            try:
                with self.database.transaction() as session:
                    actions = PartnerInbox(session, partner_id, f"demo:{connection}")
                    _inbox_action(actions, lead_id, offer_id, step)
            except (ConflictError, NotFound):  # too late: another partner took it, or it was withdrawn
                done["too late"] += 1
                continue
            done[step["Status"]] += 1
        return done

    def _act_in_org(self, connection: str, org: Any) -> Counter[str]:
        sf = salesforce_client(org, self.world.box.ca_file, flow="soap")
        soql = (
            "SELECT Id, LeadBridge_Id__c, Status, LeadBridge_Status__c FROM Lead "
            "WHERE LeadBridge_Id__c != null"
        )
        records = sf.query_all(soql)["records"]
        updates = []
        for record in records:
            if record["LeadBridge_Status__c"] == "Withdrawn":
                continue
            step = next_step(self.seed, record["LeadBridge_Id__c"], connection, record["Status"])
            if step:
                updates.append({"attributes": {"type": "Lead"}, "id": record["Id"], **step})
        for start in range(0, len(updates), 200):
            sf.restful(
                "composite/sobjects",
                method="PATCH",
                json={"allOrNone": False, "records": updates[start : start + 200]},
            )
        self.api_calls += 2 + len(updates) // 200
        return Counter(update["Status"] for update in updates)

    def _act_in_portal(self, connection: str, portal: Any) -> Counter[str]:
        done: Counter[str] = Counter()
        for record in portal.store("contacts").live():
            values = record.properties
            if not values.get("leadbridge_id") or values.get("leadbridge_status") == "Withdrawn":
                continue
            if values.get("leadbridge_outcome"):  # the partner already said how it ended
                continue
            status = _HUBSPOT_STATUS.get(values.get("hs_lead_status") or "")
            step = next_step(self.seed, values["leadbridge_id"], connection, status) if status else None
            if step:
                portal.edit_as_user("contacts", record.id, hubspot_step(step))
                done[step["Status"]] += 1
        return done

    def _act_in_company(self, connection: str, company: Any) -> Counter[str]:
        done: Counter[str] = Counter()
        field = company.field_by_name("leadbridge_id")
        names = {label["id"]: label["label"] for label in company.labels}
        company.clock.advance(1.0)  # a person's edits, a moment after leadbridge's (stamps are whole seconds)
        for deal in company.deals_with("leadbridge_id"):
            labels = {names[i] for i in deal["label_ids"] if i in names}
            status = pipedrive_status(deal, labels)
            lead_id = deal["custom_fields"][field["key"]]
            step = next_step(self.seed, lead_id, connection, status) if status else None
            change = pipedrive_step(step, labels) if step else None
            if step and change:
                company.edit_as_user("deal", deal["id"], change)
                done[step["Status"]] += 1
        return done

    def _act_in_environment(self, connection: str, environment: Any) -> Counter[str]:
        done: Counter[str] = Counter()
        for row in environment.records("leads"):
            if not row.get("new_leadbridgeid") or row.get("new_leadbridgestatus") == "Withdrawn":
                continue
            status = _DYNAMICS_OPEN.get(row.get("new_partnerstatus"))  # None: the partner has answered
            step = next_step(self.seed, row["new_leadbridgeid"], connection, status) if status else None
            if step:
                environment.update("leads", row["leadid"], dynamics_step(step))
                done[step["Status"]] += 1
        return done

    def _act_in_inbox(self) -> Counter[str]:
        """Inbox partners act through the inbox's own actions (what its pages call)."""
        done: Counter[str] = Counter()
        with self.database.transaction() as session:
            inbox = set(
                session.execute(select(PartnerRow.id).where(PartnerRow.connection == INBOX)).scalars()
            )
            work: list[tuple[str, str, str, str | None]] = []
            for offer in session.execute(
                select(OfferRow).where(OfferRow.status == OfferStatus.PENDING, OfferRow.partner_id.in_(inbox))
            ).scalars():
                work.append((offer.lead_id, offer.partner_id, NEW, offer.id))
            for lead in session.execute(
                select(LeadRow).where(
                    LeadRow.partner_id.in_(inbox), LeadRow.state.in_([LeadState.ACCEPTED, LeadState.WORKING])
                )
            ).scalars():
                status = ACCEPTED if lead.state == LeadState.ACCEPTED else WORKING
                work.append((lead.id, lead.partner_id or "", status, None))
        for lead_id, partner_id, status, offer_id in sorted(work):
            step = next_step(self.seed, lead_id, partner_id, status)
            if step is None:
                continue
            try:
                with self.database.transaction() as session:
                    actions = PartnerInbox(session, partner_id, f"demo:{partner_id}")
                    _inbox_action(actions, lead_id, offer_id, step)
            except (ConflictError, NotFound):  # too late: another partner took it, or it was withdrawn
                done["too late"] += 1
                continue
            done[step["Status"]] += 1
        return done


def _inbox_action(inbox: PartnerInbox, lead_id: str, offer_id: str | None, step: dict[str, Any]) -> None:
    """One step as the inbox pages perform it (claim, decline, status, win, loss, return)."""
    status, reason = step["Status"], step.get("LeadBridge_Reason__c") or "no_fit"
    key = f"demo:{lead_id}:{inbox.partner_id}:{status}"
    if status == ACCEPTED and offer_id:
        inbox.accept(offer_id)
    elif status == DECLINED and offer_id:
        inbox.decline(offer_id, DeclineInput(reason_code=reason))
    elif status == WORKING:
        inbox.update_status(lead_id, StatusInput(status=WorkStatus.CONTACTED), request_id=key)
    elif status == WON:
        amount = Decimal(str(step["LeadBridge_Expected_Revenue__c"]))
        inbox.win(lead_id, WinInput(amount=amount), request_id=key)
    elif status == LOST:
        inbox.lose(lead_id, LoseInput(reason_code=reason), request_id=key)
    elif status == RETURNED:
        inbox.return_lead(lead_id, ReturnInput(reason_code=reason), request_id=key)
