"""The last check before a lead's identity reaches a partner: does its consent scope cover it?

Every path that shows a partner the identity of a lead it holds — the partner's CRM copy, the inbox
lead page, the partner API — runs ``lead_for_partner``: a partner the scope does not cover gets the
lead with its identity withheld (what a blind offer shows), whatever routing decided earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.model import Lead
from leadbridge.core.privacy.consent import PartnerFacts
from leadbridge.core.store.tables import PartnerRow

# What a partner outside the consent scope still sees: the kind of lead, not who it is.
_NOT_IDENTIFYING = (
    "id",
    "source_connection",
    "external_id",
    "industry",
    "employees",
    "annual_revenue",
    "product_interests",
    "language",
    "score",
    "stage",
    "campaign",
    "source",
    "created_at",
)


def partner_facts(session: Session, partner_ids: Iterable[str]) -> dict[str, PartnerFacts]:
    """The consent-relevant facts of these partners (one query)."""
    wanted = sorted(set(partner_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(PartnerRow.id, PartnerRow.external_id, PartnerRow.data).where(PartnerRow.id.in_(wanted))
    ).all()
    return {partner_id: facts_of(partner_id, external_id, data) for partner_id, external_id, data in rows}


def facts_of(partner_id: str, external_id: str | None, data: dict[str, Any]) -> PartnerFacts:
    return PartnerFacts(
        partner_id,
        external_id,
        str(data.get("tier") or "") or None,
        data.get("location_country"),
        frozenset(data.get("tags") or ()),
    )


def withheld(lead: Lead) -> Lead:
    """``lead`` without its identity (names, contact details, company, street, postal code)."""
    data = lead.model_dump(mode="json")
    kept = {key: data[key] for key in _NOT_IDENTIFYING if key in data}
    address = data.get("address") or {}
    kept["address"] = {k: address.get(k) for k in ("country", "city") if address.get(k)}
    return Lead.from_stored(kept)


def lead_for_partner(lead: Lead, facts: PartnerFacts | None) -> Lead:
    """The lead as ``facts``' partner may see it (module rules)."""
    if facts is not None and lead.consent.effective.allows(facts):
        return lead
    return withheld(lead)
