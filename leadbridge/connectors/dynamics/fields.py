"""Field mapping between Dataverse leads and leadbridge, through the mappings module's compiled plans.

Rules:
- manufacturer pull: the connection's mapping turns a lead row into a canonical ``Lead``; a row it
  cannot map raises ``RecordError`` (quarantined);
- write-back: the ``status.*`` entries into the ``new_leadbridge*`` columns; leadbridge owns
  ``LEADBRIDGE_OWNED`` (a different value found there on a pull is a conflict, and ours wins);
- partner push: only the *blind* entries until the partner accepted a lead whose consent allows
  sharing; ``lastname``/``companyname``/``subject`` get neutral placeholders while blind;
  ``new_leadbridgestatus`` says Offered / Accepted / Withdrawn;
- partner pull: the answer (``new_partnerstatus``, a choice read as its integer value) and the
  outcome columns, read raw for echo detection and through the mapping for their meaning; only
  ``Accepted`` claims a lead (an explicit accept, as the value map reads some value as accepted);
- values go out as JSON Dataverse takes: date-times ISO with ``Z``, decimals as numbers.
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
from leadbridge.mappings.transforms.values import ValueMap
from leadbridge.ports import format_stamp

DEFAULT_QUALIFICATION = "statecode eq 0 and (new_lifecyclestage eq 'MQL' or new_lifecyclestage eq 'SQL')"
LEADBRIDGE_OWNED = ("new_leadbridgepartner", "new_leadbridgestatus", "new_leadbridgeoutcome")
PUSH_STATUS = "new_leadbridgestatus"
OUTCOME_COLUMN = "new_leadbridgeoutcome"
OFFERED, ACCEPTED, WITHDRAWN = "Offered", "Accepted", "Withdrawn"
FORMATTED = "OData.Community.Display.V1.FormattedValue"
FORMATTED_VALUES = f'odata.include-annotations="{FORMATTED}"'  # the Prefer that asks for labels


def dv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_stamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _choice_columns(mapping: MappingSpec) -> frozenset[str]:
    """Columns written through a value map whose remote values are all integers: choices, whose
    values Dataverse takes only as JSON integers (a value map's remote values are YAML text)."""
    found = set()
    for entry in mapping.fields:
        side = entry.outbound
        if side is None or not side.field:
            continue
        for step in side.steps:
            remote = step.transform.backward.values() if isinstance(step.transform, ValueMap) else ()
            if remote and all(str(value).lstrip("-").isdigit() for value in remote):
                found.add(side.field)
    return frozenset(found)


def _status_field(mapping: MappingSpec) -> str | None:
    for entry in mapping.fields:
        if entry.canonical == "status.partner_status" and entry.inbound is not None:
            return entry.inbound.field
    return None


def _accepts_explicitly(mapping: MappingSpec) -> bool:
    for entry in mapping.fields:
        if entry.canonical == "status.partner_status" and entry.inbound is not None:
            for step in entry.inbound.steps:
                if isinstance(step.transform, ValueMap) and "accepted" in step.transform.args.values.values():
                    return True
    return False


class LeadFields:
    """One connection's lead mapping, compiled once (module rules)."""

    def __init__(self, mapping: MappingSpec, *, key_column: str) -> None:
        self.mapping = mapping
        self.plan = Plan(mapping)
        self.key_column = key_column
        entries = mapping.fields
        self.read_fields = tuple(
            dict.fromkeys(e.inbound.field for e in entries if e.inbound and e.inbound.field)
        )
        self.partner_owned_fields = mapping.partner_owned_fields()
        self.writeback_names = mapping.status_outbound_fields()
        self.status_field = _status_field(mapping)
        self.choice_columns = _choice_columns(mapping)
        self.explicit_accept = _accepts_explicitly(mapping)

    def _typed(self, remote: Mapping[str, Any]) -> dict[str, Any]:
        """Values as Dataverse takes them (``dv_value``; choices as integers)."""
        typed = {name: dv_value(value) for name, value in remote.items()}
        for name in self.choice_columns & typed.keys():
            if isinstance(typed[name], str) and typed[name].lstrip("-").isdigit():
                typed[name] = int(typed[name])
        return typed

    def lead_from_record(self, record: Mapping[str, Any], connection: str) -> Lead:
        return self.plan.map_record(record, connection).lead

    def writeback_fields(self, lead: Lead, status: LeadStatusRecord) -> dict[str, Any]:
        remote = self.plan.to_remote(lead, status, owners=(Owner.LEADBRIDGE, Owner.PARTNER))
        return {name: value for name, value in self._typed(remote).items() if name in self.writeback_names}

    def partner_fields(
        self, lead: Lead, status: LeadStatusRecord, *, accepted: bool, withdrawn: bool, first_push: bool
    ) -> dict[str, Any]:
        reveal = accepted and lead.consent.share_with_partners
        remote = self.plan.to_remote(
            lead, status, blind=not reveal, owners=(Owner.MANUFACTURER, Owner.LEADBRIDGE)
        )
        fields = self._typed(remote)
        fields[self.key_column] = lead.id
        area = f"{lead.address.postal_code[:2]}…" if lead.address.postal_code else "—"
        industry = (lead.industry or "company").replace("_", " ").title()
        if not reveal:
            fields["lastname"] = f"Lead {lead.id[-6:]}"
            fields["companyname"] = f"{industry} lead, {area} {lead.address.city or ''}".strip()[:100]
        fields["subject"] = (
            f"{industry} lead {lead.id[-6:]} ({', '.join(lead.product_interests) or 'enquiry'})"[:300]
        )
        fields[PUSH_STATUS] = WITHDRAWN if withdrawn else (ACCEPTED if accepted else OFFERED)
        return fields

    def erasure_fields(self, lead_id: str, mark: str) -> dict[str, Any]:
        blank = Lead(id=lead_id, source_connection="erased")
        remote = self.plan.to_remote(blank, None, owners=(Owner.MANUFACTURER,))
        fields = self._typed(remote)
        fields.update(lastname=mark[:50], companyname=mark[:100], subject=mark[:300])
        return fields

    def partner_owned(self, record: Mapping[str, Any]) -> dict[str, Any]:
        return {name: dv_value(record.get(name)) for name in self.partner_owned_fields}

    def partner_status(self, record: Mapping[str, Any]) -> dict[str, Any]:
        flat = self.plan.to_canonical(record)
        value = flat.get
        amount = value("status.expected_revenue")
        raw = record.get(self.status_field) if self.status_field else None
        meaning = value("status.partner_status") or value("status.outcome")
        return {
            "lead_id": str(record.get(self.key_column) or value("status.lead_id") or ""),
            # the choice's label when the read asked for it (``FORMATTED_VALUES``), else its value
            "status": str(record.get(f"{self.status_field}@{FORMATTED}") or raw) if raw is not None else None,
            "meaning": str(meaning) if meaning is not None else None,
            "reason": value("status.reason"),
            "amount": str(amount) if amount is not None else None,
            "close_date": dv_value(value("status.close_date")),
            "next_follow_up": dv_value(value("status.next_follow_up")),
            "explicit_accept": self.explicit_accept,
        }
