"""What a partner's Pipedrive deal says, and what leadbridge writes to it — a fixed plan, no
mapping file (the deal has standard fields for everything the partner loop needs).

Rules:
- the offer is a deal titled after the lead, with ``leadbridge_id`` (our lead id) in its custom
  field and the label *Offered*; its status starts ``open`` (set on the first push only, then the
  partner's);
- while the offer is pending (or the consent does not cover this partner) the deal is **blind**:
  a title with industry, postal area and city, no person, no organization. Once this partner
  accepted, the person (name, e-mail, phone) and the organization (company, address) are created
  and linked — an existing person with the same e-mail is linked instead of doubled;
- a withdrawn, expired or returned offer gets the label *Withdrawn* instead of its labels;
- the partner answers with what Pipedrive users do anyway: the label *Accepted* claims the lead
  (the explicit accept that reveals the identity); the label *Declined*, or marking the deal lost
  before accepting, declines the offer (the lost reason is the reason); marking an accepted deal won
  reports the win with the deal's value and won date, lost a loss with its reason and lost date.
  Won or lost without *Accepted* waits (nothing is revealed) — except lost, which is a decline;
- partner-owned for echo detection: status, the Accepted/Declined labels, lost reason and value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from leadbridge.connectors.pipedrive.config import PipedriveConfig
from leadbridge.connectors.pipedrive.schema import EXTERNAL_ID, Schema
from leadbridge.core.model import Lead
from leadbridge.core.partner_status import PartnerStatus

PARTNER_LABELS = ("accepted", "declined")


def blind_title(lead: Lead) -> str:
    area = f"{lead.address.postal_code[:2]}…" if lead.address.postal_code else "—"
    industry = (lead.industry or "company").replace("_", " ").title()
    return f"{industry} lead, {area} {lead.address.city or ''}".strip()


def partner_fields(
    config: PipedriveConfig, lead: Lead, *, accepted: bool, withdrawn: bool, first_push: bool
) -> dict[str, Any]:
    """The neutral description of the partner's deal (module rules); ``PipedriveConnector`` turns
    it into v2 bodies."""
    reveal = accepted and lead.consent.share_with_partners
    fields: dict[str, Any] = {EXTERNAL_ID: lead.id, "title": blind_title(lead)}
    if reveal:
        name = " ".join(p for p in (lead.first_name, lead.last_name) if p) or lead.company or lead.id
        fields["title"] = f"{lead.company or name} — {lead.address.city or ''}".strip(" —")
        fields["person"] = {"name": name, "email": lead.email, "phone": lead.phone}
        if lead.company:
            place = f"{lead.address.postal_code or ''} {lead.address.city or ''}".strip()
            address = ", ".join(p for p in (lead.address.street, place, lead.address.country) if p)
            fields["organization"] = {"name": lead.company, "address": address or None}
    if withdrawn:
        fields["label"] = "withdrawn"
    elif first_push:
        fields["label"] = "offered"
    if first_push:
        fields["status"] = "open"
    return fields


def record_of(deal: Mapping[str, Any], schema: Schema, config: PipedriveConfig) -> dict[str, Any]:
    """A v2 deal as the flat record leadbridge reads (labels by our names, our id at the root)."""
    names = {schema.labels.get(config.label(k)): k for k in ("offered", "accepted", "declined", "withdrawn")}
    custom = deal.get("custom_fields") or {}
    return {
        "id": str(deal["id"]),
        EXTERNAL_ID: custom.get(schema.external_key) if schema.external_key else None,
        "title": deal.get("title"),
        "status": "deleted" if deal.get("is_deleted") else deal.get("status"),
        "labels": sorted(names[i] for i in deal.get("label_ids") or [] if names.get(i)),
        "lost_reason": deal.get("lost_reason"),
        "value": deal.get("value"),
        "currency": deal.get("currency"),
        "won_time": deal.get("won_time"),
        "lost_time": deal.get("lost_time"),
        "person_id": deal.get("person_id"),
        "org_id": deal.get("org_id"),
        "update_time": deal.get("update_time"),
    }


def partner_owned(record: Mapping[str, Any]) -> dict[str, Any]:
    """The partner-owned values of a read record or of what we wrote (echo detection)."""
    labels = list(record.get("labels") or ([record["label"]] if record.get("label") else []))
    value = record.get("value")
    return {
        "status": record.get("status") or None,
        "labels": ",".join(sorted(label for label in labels if label in PARTNER_LABELS)) or None,
        "lost_reason": record.get("lost_reason") or None,
        "value": str(value) if value not in (None, 0, "", "0") else None,
    }


def _day(stamp: Any) -> str | None:
    return str(stamp)[:10] if stamp else None


def partner_status(record: Mapping[str, Any]) -> PartnerStatus:
    """The partner's answer (module rules) as ``PartnerStatus``."""
    labels = set(record.get("labels") or ())
    status = str(record.get("status") or "")
    accepted = "accepted" in labels
    reason = record.get("lost_reason") or None
    meaning: str | None = None
    close_date = None
    if "declined" in labels or (status == "lost" and not accepted):
        meaning = "declined"
    elif status == "won":
        meaning, close_date = "won", _day(record.get("won_time"))
    elif status == "lost":
        meaning, close_date = "lost", _day(record.get("lost_time"))
    elif accepted:
        meaning = "accepted"
    value = record.get("value")
    shown = "/".join([status, *sorted(labels)]) if meaning else None
    return PartnerStatus(
        lead_id=str(record.get(EXTERNAL_ID) or ""),
        status=shown,
        meaning=meaning,
        reason=str(reason) if reason else None,
        amount=str(value) if meaning == "won" and value not in (None, "") else None,
        close_date=close_date,
        # The Accepted label is the explicit accept: with it, won/lost claim first; without it they wait.
        explicit_accept=not accepted,
    )
