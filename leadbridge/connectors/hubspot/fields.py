"""Field mapping between HubSpot records and leadbridge, through the mappings module's compiled plans.

Rules:
- manufacturer pull: the contact mapping turns a contact into a canonical ``Lead``; its associated
  (primary) company, through the company mapping, fills what the contact lacks — the contact's own
  values win, and the address is taken as a whole when the contact has no street, zip or city
  (never a contact's city with a company's zip);
  a record that cannot be mapped raises ``RecordError`` (quarantined);
- write-back: the lead's ``LeadStatusRecord`` through the mapping's ``status.*`` entries into the
  ``leadbridge_*`` properties; leadbridge owns the partner name, state and outcome properties: a
  different value found there on a pull is a conflict, and ours wins;
- partner push: the entries the manufacturer or leadbridge own — only the *blind* ones until this
  partner accepted a lead whose consent allows sharing — with neutral placeholders for the name
  while blind; ``leadbridge_status`` (contacts) says Offered / Accepted / Withdrawn; the
  partner-owned status property gets its first value only on the first push;
- partner pull: the partner-owned entries (and the partner action, ``custom.partner_action``) are
  read raw for echo detection and mapped for meaning; the action, when set, wins over the lead
  status; a mapping that reads a status as ``accepted`` makes that the only claim (see BEHAVIOR.md);
- HubSpot stores every value as a string: ``None`` is sent as ``""`` (which clears the property).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from leadbridge.core.model import Lead
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.mappings.apply import Plan, RecordError
from leadbridge.mappings.canonical import Owner
from leadbridge.mappings.schema import Mapping as MappingSpec
from leadbridge.mappings.transforms.values import ValueMap
from leadbridge.ports import format_stamp

EXTERNAL_ID = "leadbridge_id"
PUSH_STATUS = "leadbridge_status"
COMPANY_PREFIX = "company."
OFFERED, ACCEPTED, WITHDRAWN = "Offered", "Accepted", "Withdrawn"
# The partner-owned status a new partner record starts with (set on the first push only).
FIRST_PUSH = {
    "contacts": {"hs_lead_status": "NEW"},
    "deals": {"pipeline": "default", "dealstage": "appointmentscheduled"},
}
# The partner's explicit action on a contact (``leadbridge_outcome``: declined / returned / won / lost).
PARTNER_ACTION = "custom.partner_action"
_OWNED_STATUS = ("status.partner_name", "status.state", "status.outcome")
_ADDRESS = "address."


def hs_value(value: Any) -> str:
    """A canonical value as HubSpot stores it (every property value is a string)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return format_stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, list | tuple):
        return ";".join(str(item) for item in value)
    return str(value)


def _reads(mapping: MappingSpec) -> tuple[str, ...]:
    return tuple(mapping.remote_fields())


def _outbound(mapping: MappingSpec, canonical: str) -> str | None:
    for entry in mapping.fields:
        if entry.canonical == canonical and entry.outbound and entry.outbound.field:
            return entry.outbound.field
    return None


def _inbound(mapping: MappingSpec, canonical: str) -> str | None:
    for entry in mapping.fields:
        if entry.canonical == canonical and entry.inbound and entry.inbound.field:
            return entry.inbound.field
    return None


def _accepts_explicitly(mapping: MappingSpec) -> bool:
    """Whether the partner status's value map reads some remote value as ``accepted`` (HubSpot
    ``CONNECTED``): then only that value claims a lead (``core.partner_status`` rules)."""
    for entry in mapping.fields:
        if entry.canonical == "status.partner_status" and entry.inbound is not None:
            for step in entry.inbound.steps:
                if isinstance(step.transform, ValueMap) and "accepted" in step.transform.args.values.values():
                    return True
    return False


def _fill(flat: dict[str, Any], company: Mapping[str, Any]) -> dict[str, Any]:
    """The contact's values, with the company's where the contact has none (module rules); a
    company that could not be mapped (no name) is passed as ``{}`` and adds nothing."""
    has_address = any(flat.get(f"{_ADDRESS}{part}") for part in ("street", "postal_code", "city"))
    for path, value in company.items():
        if value is None or (has_address and path.startswith(_ADDRESS)):
            continue
        if flat.get(path) is None:
            flat[path] = value
    return flat


class RecordFields:
    """One connection's mapping (and, for manufacturer contacts, its company mapping), compiled once."""

    def __init__(self, mapping: MappingSpec, company: MappingSpec | None = None) -> None:
        self.mapping = mapping
        self.object = mapping.object
        self.plan = Plan(mapping)
        self.company_plan = Plan(company) if company is not None else None
        self.read_fields = _reads(mapping)
        self.company_fields = _reads(company) if company is not None else ()
        self.writeback_names = mapping.status_outbound_fields()
        self.leadbridge_owned = tuple(f for c in _OWNED_STATUS if (f := _outbound(mapping, c)) is not None)
        self.partner_owned_fields = mapping.partner_owned_fields()
        self.status_field = _inbound(mapping, "status.partner_status") or _inbound(mapping, "status.outcome")
        # The partner's explicit action (declined / returned / won / lost), read before the status.
        self.action_field = _inbound(mapping, PARTNER_ACTION)
        if self.action_field and self.action_field not in self.partner_owned_fields:
            self.partner_owned_fields += (self.action_field,)
        self.explicit_accept = _accepts_explicitly(mapping)

    # -- manufacturer ---------------------------------------------------------------------------
    def lead_from_record(self, record: Mapping[str, Any], connection: str) -> Lead:
        """The canonical lead of a contact (+ ``company.*`` values); ``RecordError`` if unmappable."""
        [lead] = self.leads_from_records([record], connection)
        if isinstance(lead, RecordError):
            raise lead
        return lead

    def leads_from_records(
        self, records: Sequence[Mapping[str, Any]], connection: str
    ) -> list[Lead | RecordError]:
        """``lead_from_record`` for a page at once (the mappings map a whole column per call)."""
        own = [{k: v for k, v in r.items() if not k.startswith(COMPANY_PREFIX)} for r in records]
        company = [
            {k[len(COMPANY_PREFIX) :]: v for k, v in r.items() if k.startswith(COMPANY_PREFIX)}
            for r in records
        ]
        flats = self.plan.to_canonical_batch(own)
        from_company: Sequence[Mapping[str, Any] | RecordError] = [{}] * len(records)
        if self.company_plan is not None and any(company):
            from_company = self.company_plan.to_canonical_batch(company)
        leads: list[Lead | RecordError] = []
        for values, flat, extra in zip(own, flats, from_company, strict=True):
            if isinstance(flat, RecordError):
                leads.append(flat)
                continue
            merged = _fill(dict(flat), {} if isinstance(extra, RecordError) else extra)
            try:
                leads.append(self.plan.build(merged, self.plan.external_id(values), connection).lead)
            except RecordError as error:
                leads.append(error)
        return leads

    def writeback_fields(
        self, lead: Lead, status: LeadStatusRecord, *, owner_id: str | None
    ) -> dict[str, str]:
        """The write-back values for one lead (and ``hubspot_owner_id`` for direct sales, if configured)."""
        remote = self.plan.to_remote(lead, status, owners=(Owner.LEADBRIDGE, Owner.PARTNER))
        fields = {name: hs_value(value) for name, value in remote.items() if name in self.writeback_names}
        if status.state is not None and status.state.value == "direct" and owner_id:
            fields["hubspot_owner_id"] = owner_id
        return fields

    # -- partner --------------------------------------------------------------------------------
    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> dict[str, str]:
        """The partner's copy of a lead (module rules)."""
        reveal = accepted and lead.consent.share_with_partners
        remote = self.plan.to_remote(
            lead, status, blind=not reveal, owners=(Owner.MANUFACTURER, Owner.LEADBRIDGE)
        )
        fields = {name: hs_value(value) for name, value in remote.items()}
        fields[EXTERNAL_ID] = lead.id
        if not reveal:
            area = f"{lead.address.postal_code[:2]}…" if lead.address.postal_code else "—"
            industry = (lead.industry or "company").replace("_", " ").title()
            label = f"{industry} lead, {area} {lead.address.city or ''}".strip()
            if self.object == "deals":
                fields["dealname"] = label
            else:
                fields.update(firstname="Lead", lastname=lead.id[-6:], company=label)
        if self.object == "contacts":
            fields[PUSH_STATUS] = WITHDRAWN if withdrawn else (ACCEPTED if accepted else OFFERED)
        if first_push:
            fields.update(FIRST_PUSH.get(self.object, {}))
        return fields

    def erasure_fields(self, lead_id: str, mark: str) -> dict[str, str]:
        """What overwrites a record's personal data (erasure): every manufacturer-owned property the
        mapping writes is cleared (``""``), and the record's name says ``mark``."""
        blank = Lead(id=lead_id, source_connection="erased")
        remote = self.plan.to_remote(blank, None, owners=(Owner.MANUFACTURER,))
        fields = {name: hs_value(value) for name, value in remote.items()}
        fields.pop(EXTERNAL_ID, None)
        if self.object == "deals":
            fields["dealname"] = mark
        else:
            fields.update(firstname="", lastname=mark, company="")
        return fields

    def partner_owned(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The raw partner-owned values of a partner record (what echo detection compares)."""
        return {name: record.get(name) or None for name in self.partner_owned_fields}

    def partner_status(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """The partner-owned facts, mapped: ``{"lead_id", "status", "meaning", "reason", …}``."""
        flat = self.plan.to_canonical(record)
        value = flat.get
        amount = value("status.expected_revenue")
        action = value(PARTNER_ACTION)
        meaning = action or value("status.partner_status") or value("status.outcome")
        status_field = self.action_field if action else self.status_field
        return {
            "lead_id": str(record.get(EXTERNAL_ID) or value("status.lead_id") or ""),
            "status": (record.get(status_field) or None) if status_field else None,
            "meaning": str(meaning) if meaning is not None else None,
            "reason": value("status.reason"),
            "amount": str(amount) if amount is not None else None,
            "close_date": hs_value(value("status.close_date")) or None,
            "next_follow_up": hs_value(value("status.next_follow_up")) or None,
            "explicit_accept": self.explicit_accept,
        }
