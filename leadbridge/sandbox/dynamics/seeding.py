"""Fill an environment with generated leads (manufacturer columns filled), deterministic by seed."""

from __future__ import annotations

from typing import Any

from leadbridge.sandbox.dynamics.org import DataverseOrg
from leadbridge.sandbox.seed import SeedLead, generate_leads

STAGES = {"lead": "Lead", "mql": "MQL", "sql": "SQL"}


def lead_row(lead: SeedLead) -> dict[str, Any]:
    """A seeded lead as Dataverse columns."""
    return {
        "subject": f"{lead.company}: {', '.join(lead.product_interests)}"[:300],
        "firstname": lead.first_name,
        "lastname": lead.last_name,
        "companyname": lead.company[:100],
        "jobtitle": lead.title,
        "emailaddress1": lead.email,
        "telephone1": lead.phone,
        "websiteurl": lead.website,
        "numberofemployees": lead.employees,
        "revenue": float(lead.annual_revenue),
        "address1_line1": lead.street,
        "address1_postalcode": lead.postal_code,
        "address1_city": lead.city,
        "address1_stateorprovince": lead.state[:50],
        "address1_country": lead.country,
        "address1_latitude": lead.latitude,
        "address1_longitude": lead.longitude,
        "leadsourcecode": 8,
        "donotemail": not lead.consent_marketing,
        "new_lifecyclestage": STAGES.get(lead.stage, "Lead"),
        "new_industry": lead.industry,
        "new_consentsharewithpartners": lead.consent_share,
        "new_productinterest": ";".join(lead.product_interests),
        "new_leadscore": lead.score,
        "new_campaignname": lead.campaign,
        "new_preferredlanguage": lead.language,
    }


def seed_org(org: DataverseOrg) -> list[str]:
    """Create the spec's leads directly (no HTTP, not counted); their ids."""
    leads = generate_leads(org.spec.seed, org.spec.leads, now=org.clock.now())
    return [org.create("leads", lead_row(lead))["leadid"] for lead in leads]
