"""Field mapping between Salesforce Leads and leadbridge, through the mappings module's compiled plans.

Rules:
- manufacturer pull: the connection's mapping (its ``mapping`` file, else the shipped default) turns
  a Lead into a canonical ``Lead``; a record it cannot map raises ``RecordError`` (quarantined);
- write-back: the lead's ``LeadStatusRecord`` through the mapping's ``status.*`` entries (leadbridge-
  and partner-owned) into the ``LeadBridge_*`` fields; leadbridge owns ``LEADBRIDGE_OWNED``: a
  different value found there on a pull is a conflict, and ours wins;
- partner push: the mapping's entries the manufacturer or leadbridge own — only the *blind* ones
  until this partner accepted a lead whose consent allows sharing; ``LastName``/``Company`` (which
  Salesforce requires) get neutral placeholders while blind; ``LeadBridge_Status__c`` says
  Offered / Accepted / Withdrawn; the partner-owned ``Status`` is set only on the first push;
- partner pull: the partner-owned entries (``Status``, reason, amount, dates) are read raw for echo
  detection and through the mapping for their meaning.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from leadbridge.core.model import Lead
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.mappings.apply import Plan
from leadbridge.mappings.canonical import Owner
from leadbridge.mappings.schema import Mapping as MappingSpec
from leadbridge.ports import format_stamp

EXTERNAL_ID_FIELD = "LeadBridge_Id__c"
DEFAULT_QUALIFICATION = "Lifecycle_Stage__c IN ('MQL','SQL')"
# Text fields leadbridge owns in the manufacturer org, compared on each pull to spot conflicts.
LEADBRIDGE_OWNED = ("LeadBridge_Partner__c", "LeadBridge_Status__c", "LeadBridge_Outcome__c")
PUSH_STATUS = "LeadBridge_Status__c"
NEW_PARTNER_STATUS = "Open - Not Contacted"
OFFERED, ACCEPTED, WITHDRAWN = "Offered", "Accepted", "Withdrawn"


def _sf_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


class LeadFields:
    """One connection's Lead mapping, compiled once (module rules)."""

    def __init__(self, mapping: MappingSpec) -> None:
        self.mapping = mapping
        self.plan = Plan(mapping)
        entries = mapping.fields
        self.read_fields = tuple(
            dict.fromkeys(e.inbound.field for e in entries if e.inbound and e.inbound.field)
        )
        self.partner_owned_fields = mapping.partner_owned_fields()
        self.writeback_names = mapping.status_outbound_fields()

    # -- manufacturer ---------------------------------------------------------------------------
    def lead_from_record(self, record: Mapping[str, Any], connection: str) -> Lead:
        """The canonical lead of a manufacturer record; ``RecordError`` (a ``SkipRecord``) if unmappable."""
        return self.plan.map_record(record, connection).lead

    def writeback_fields(
        self, lead: Lead, status: LeadStatusRecord, *, owner_id: str | None
    ) -> dict[str, Any]:
        """The write-back values for one lead (and ``OwnerId`` for direct sales, if configured)."""
        remote = self.plan.to_remote(lead, status, owners=(Owner.LEADBRIDGE, Owner.PARTNER))
        fields = {name: _sf_value(value) for name, value in remote.items() if name in self.writeback_names}
        if status.state is not None and status.state.value == "direct" and owner_id:
            fields["OwnerId"] = owner_id
        return fields

    # -- partner --------------------------------------------------------------------------------
    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> dict[str, Any]:
        """The partner's copy of a lead (module rules)."""
        reveal = accepted and lead.consent.share_with_partners
        remote = self.plan.to_remote(
            lead, status, blind=not reveal, owners=(Owner.MANUFACTURER, Owner.LEADBRIDGE)
        )
        fields = {name: _sf_value(value) for name, value in remote.items()}
        fields[EXTERNAL_ID_FIELD] = lead.id
        if not reveal:
            area = f"{lead.address.postal_code[:2]}…" if lead.address.postal_code else "—"
            industry = (lead.industry or "company").replace("_", " ")
            fields["LastName"] = f"Lead {lead.id[-6:]}"
            fields["Company"] = f"{industry.title()} lead, {area} {lead.address.city or ''}".strip()
        fields[PUSH_STATUS] = WITHDRAWN if withdrawn else (ACCEPTED if accepted else OFFERED)
        if first_push:
            fields["Status"] = NEW_PARTNER_STATUS
        return fields

    def erasure_fields(self, lead_id: str, mark: str) -> dict[str, Any]:
        """What overwrites a record's personal data (erasure): every manufacturer-owned field the
        mapping writes is cleared, and the Lead's required ``LastName``/``Company`` say ``mark``."""
        blank = Lead(id=lead_id, source_connection="erased")
        remote = self.plan.to_remote(blank, None, owners=(Owner.MANUFACTURER,))
        fields = {name: _sf_value(value) for name, value in remote.items()}
        fields.update(LastName=mark[:80], Company=mark[:255])
        return fields

    def partner_owned(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The raw partner-owned values of a partner record (what echo detection compares)."""
        return {name: _sf_value(record.get(name)) for name in self.partner_owned_fields}

    def partner_status(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The partner-owned facts, mapped: ``{"lead_id", "status", "raw_status", "reason", …}``."""
        flat = self.plan.to_canonical(record)
        value = flat.get
        amount = value("status.expected_revenue")
        return {
            "lead_id": str(record.get(EXTERNAL_ID_FIELD) or value("status.lead_id") or ""),
            "status": record.get("Status"),
            "meaning": value("status.partner_status"),
            "reason": value("status.reason"),
            "amount": str(amount) if amount is not None else None,
            "close_date": _sf_value(value("status.close_date")),
            "next_follow_up": _sf_value(value("status.next_follow_up")),
        }
