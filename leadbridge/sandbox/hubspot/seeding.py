"""Fill a portal with the shared seed data: custom leadbridge properties, companies, contacts, deals.

Each ``SeedLead`` becomes a contact associated (default + primary) with its company (companies are
shared by name); sales-qualified leads also get an open deal associated with both. Creation dates
are back-dated as HubSpot imports allow; the records carry ``changeSource`` IMPORT in their history.
"""

from __future__ import annotations

from typing import Any

from leadbridge.sandbox.hubspot.associations import HUBSPOT_DEFINED, PAIRS
from leadbridge.sandbox.hubspot.objects import iso
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.store import IMPORT
from leadbridge.sandbox.seed import PRODUCT_LINES, SeedLead, generate_leads

GROUP = "leadbridge"
STAGE = {"lead": "lead", "mql": "marketingqualifiedlead", "sql": "salesqualifiedlead"}

# Custom properties leadbridge expects in a HubSpot portal: (object, name, type, fieldType, unique).
CUSTOM_PROPERTIES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("contacts", "leadbridge_id", "string", "text", True),
    ("contacts", "leadbridge_partner_id", "string", "text", False),
    ("contacts", "leadbridge_status", "string", "text", False),
    ("contacts", "product_interest", "enumeration", "checkbox", False),
    ("contacts", "lead_score", "number", "number", False),
    ("contacts", "lead_source", "string", "text", False),
    ("contacts", "campaign", "string", "text", False),
    ("contacts", "latitude", "number", "number", False),
    ("contacts", "longitude", "number", "number", False),
    ("contacts", "consent_share_with_partners", "bool", "booleancheckbox", False),
    ("contacts", "consent_marketing", "bool", "booleancheckbox", False),
    ("deals", "leadbridge_id", "string", "text", True),
    ("deals", "leadbridge_partner_id", "string", "text", False),
)


def install_custom_properties(portal: Portal) -> None:
    """Create the ``leadbridge`` property group and the custom properties (idempotent)."""
    now = portal.clock.now()
    with portal.lock:
        for obj in ("contacts", "deals"):
            if GROUP not in portal.catalogue.groups[obj]:
                portal.catalogue.create_group(obj, {"name": GROUP, "label": "leadbridge", "displayOrder": 10})
        for obj, name, kind, field_type, unique in CUSTOM_PROPERTIES:
            if portal.catalogue.get(obj, name) is not None:
                continue
            body: dict[str, Any] = {
                "name": name,
                "label": name.replace("_", " ").capitalize(),
                "type": kind,
                "fieldType": field_type,
                "groupName": GROUP,
                "hasUniqueValue": unique,
            }
            if name == "product_interest":
                body["options"] = [{"label": p, "value": p} for p in PRODUCT_LINES]
            portal.catalogue.create(obj, body, now)


def _company(lead: SeedLead) -> dict[str, Any]:
    return {
        "name": lead.company,
        "domain": lead.website.removeprefix("https://"),
        "website": lead.website,
        "phone": lead.phone,
        "address": lead.street,
        "city": lead.city,
        "zip": lead.postal_code,
        "state": lead.state,
        "country": lead.country,
        "industry": lead.industry,
        "numberofemployees": lead.employees,
        "annualrevenue": lead.annual_revenue,
        "lifecyclestage": STAGE[lead.stage],
        "createdate": iso(lead.created_at),
    }


def _contact(lead: SeedLead, owner_id: str) -> dict[str, Any]:
    return {
        "email": lead.email,
        "firstname": lead.first_name,
        "lastname": lead.last_name,
        "phone": lead.phone,
        "jobtitle": lead.title,
        "company": lead.company,
        "website": lead.website,
        "address": lead.street,
        "city": lead.city,
        "zip": lead.postal_code,
        "state": lead.state,
        "country": lead.country,
        "industry": lead.industry,
        "hs_language": lead.language,
        "lifecyclestage": STAGE[lead.stage],
        "hs_lead_status": "NEW",
        "hubspot_owner_id": owner_id,
        "product_interest": ";".join(lead.product_interests),
        "lead_score": lead.score,
        "lead_source": lead.source,
        "campaign": lead.campaign,
        "latitude": lead.latitude,
        "longitude": lead.longitude,
        "consent_share_with_partners": lead.consent_share,
        "consent_marketing": lead.consent_marketing,
        "createdate": iso(lead.created_at),
    }


def seed_portal(portal: Portal, leads: int, *, seed: int | None = None) -> dict[str, int]:
    """Install the custom properties and create ``leads`` contacts with companies and deals.

    Returns how many records of each object type were created.
    """
    install_custom_properties(portal)
    generated = generate_leads(portal.seed if seed is None else seed, leads, now=portal.clock.now())
    companies: dict[str, str] = {}
    counts = {"contacts": 0, "companies": 0, "deals": 0}
    primary = PAIRS[("contacts", "companies")].primary
    with portal.lock:
        for number, lead in enumerate(generated):
            owner_id = str(portal.owners[number % len(portal.owners)]["id"])
            if lead.company not in companies:
                company = portal.create("companies", _company(lead), source=IMPORT, trusted=True)
                companies[lead.company] = company.id
                counts["companies"] += 1
            company_id = companies[lead.company]
            links = [
                ("companies", company_id, HUBSPOT_DEFINED, PAIRS[("contacts", "companies")].default),
                ("companies", company_id, HUBSPOT_DEFINED, primary or 1),
            ]
            contact = portal.create(
                "contacts", _contact(lead, owner_id), links=links, source=IMPORT, trusted=True
            )
            counts["contacts"] += 1
            if lead.stage == "sql":
                deal = {
                    "dealname": f"{lead.company} – {lead.product_interests[0].replace('_', ' ')}",
                    "amount": int(lead.annual_revenue // 100),
                    "pipeline": "default",
                    "dealstage": "appointmentscheduled",
                    "hubspot_owner_id": owner_id,
                    "createdate": iso(lead.created_at),
                }
                deal_links = [
                    ("contacts", contact.id, HUBSPOT_DEFINED, PAIRS[("deals", "contacts")].default),
                    ("companies", company_id, HUBSPOT_DEFINED, PAIRS[("deals", "companies")].default),
                ]
                portal.create("deals", deal, links=deal_links, source=IMPORT, trusted=True)
                counts["deals"] += 1
    return counts
