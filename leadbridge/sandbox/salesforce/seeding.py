"""Fill an org with generated data: sales users, leads (manufacturer-style custom fields filled),
accounts with contacts for the qualified part, and follow-up tasks. Deterministic by the org's seed.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pycountry
from simple_salesforce import Salesforce

from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sandbox.seed import SeedLead, ascii_slug, generate_leads, generate_people


def country_name(code: str) -> str:
    """The English short name a Salesforce user types for an ISO alpha-2 code (the code if unknown)."""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return code
    return str(getattr(country, "common_name", None) or country.name)


INDUSTRY_LABELS = {
    "construction": "Construction",
    "energy": "Energy",
    "manufacturing": "Manufacturing",
    "utilities": "Utilities",
    "real_estate": "Real Estate",
    "retail": "Retail",
    "hospitality": "Hospitality",
    "agriculture": "Agriculture",
    "healthcare": "Healthcare",
    "education": "Education",
    "public_sector": "Government",
    "transportation": "Transportation",
}
STAGE_LABELS = {"lead": "Lead", "mql": "MQL", "sql": "SQL"}
SALES_USERS = 4


def lead_fields(lead: SeedLead, owner_id: str | None = None) -> dict[str, Any]:
    """A generated lead as Salesforce Lead fields (standard plus the org's marketing custom fields)."""
    return {
        "FirstName": lead.first_name,
        "LastName": lead.last_name,
        "Title": lead.title,
        "Company": lead.company,
        "Email": lead.email,
        "Phone": lead.phone,
        "Website": lead.website,
        "Street": lead.street,
        "PostalCode": lead.postal_code,
        "City": lead.city,
        "State": lead.state,
        "Country": country_name(lead.country),
        "Latitude": lead.latitude,
        "Longitude": lead.longitude,
        "Industry": INDUSTRY_LABELS[lead.industry],
        "NumberOfEmployees": lead.employees,
        "AnnualRevenue": float(lead.annual_revenue),
        "LeadSource": lead.source,
        "Status": "Working - Contacted" if lead.stage == "sql" else "Open - Not Contacted",
        "Rating": "Hot" if lead.score >= 80 else "Warm" if lead.score >= 50 else "Cold",
        "OwnerId": owner_id,  # None: the creating user
        "HasOptedOutOfEmail": not lead.consent_marketing,
        "Lifecycle_Stage__c": STAGE_LABELS[lead.stage],
        "Product_Interest__c": ";".join(lead.product_interests),
        "Lead_Score__c": lead.score,
        "Campaign_Name__c": lead.campaign,
        "Preferred_Language__c": lead.language,
        "Consent_Share_With_Partners__c": lead.consent_share,
        "Consent_Given_At__c": lead.created_at.isoformat() if lead.consent_share else None,
    }


def seed_org(org: SalesforceOrg, *, now: datetime | None = None) -> None:
    """Create users, ``spec.leads`` leads, and accounts/contacts/tasks for a share of them."""
    now = now or org.clock.now()
    spec, store = org.spec, org.store
    rng = random.Random(f"sf-seed|{spec.seed}|{spec.name}")
    slug = ascii_slug(spec.name)
    users = []
    for number, (first, last) in enumerate(generate_people(spec.seed, SALES_USERS), start=1):
        email = f"{ascii_slug(first, '.')}.{ascii_slug(last, '.')}{number}@{slug}.leadbridge-sandbox.example"
        users.append(
            org.create(
                "User",
                {
                    "Username": email,
                    "FirstName": first,
                    "LastName": last,
                    "Email": email,
                    "Alias": ascii_slug(last)[:8],
                    "Title": "Vertrieb",
                },
            )
        )
    lead_obj, account_obj, contact_obj, task_obj = (
        store.object(n) for n in ("Lead", "Account", "Contact", "Task")
    )
    for lead in generate_leads(spec.seed, spec.leads, now=now):
        owner = rng.choice(users)
        lead_id = store.create(lead_obj, lead_fields(lead, owner), user_id=owner, stamp=lead.created_at)
        if lead.stage == "sql" and rng.random() < 0.5:
            account = store.create(
                account_obj,
                {
                    "Name": lead.company,
                    "Industry": INDUSTRY_LABELS[lead.industry],
                    "Type": "Prospect",
                    "NumberOfEmployees": lead.employees,
                    "BillingStreet": lead.street,
                    "BillingPostalCode": lead.postal_code,
                    "BillingCity": lead.city,
                    "BillingCountry": country_name(lead.country),
                    "Website": lead.website,
                    "OwnerId": owner,
                },
                user_id=owner,
                stamp=lead.created_at,
            )
            store.create(
                contact_obj,
                {
                    "FirstName": lead.first_name,
                    "LastName": lead.last_name,
                    "Email": lead.email,
                    "AccountId": account,
                    "Title": lead.title,
                    "OwnerId": owner,
                },
                user_id=owner,
                stamp=lead.created_at,
            )
        if rng.random() < 0.2:
            due = (lead.created_at + timedelta(days=rng.randint(1, 14))).date().isoformat()
            store.create(
                task_obj,
                {"Subject": "Rückruf vereinbaren", "WhoId": lead_id, "ActivityDate": due, "OwnerId": owner},
                user_id=owner,
                stamp=lead.created_at,
            )


def push_leads(sf: Salesforce, leads: list[SeedLead], *, chunk: int = 200) -> list[str]:
    """Create generated leads in a running org through its API (collections of ``chunk`` ≤ 200).

    Raises ``RuntimeError`` naming the first refused record; the ids of created leads otherwise.
    """
    created: list[str] = []
    for start in range(0, len(leads), chunk):
        records = [
            {"attributes": {"type": "Lead"}, **lead_fields(lead)} for lead in leads[start : start + chunk]
        ]
        results = sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
        )
        if not isinstance(results, list):
            raise RuntimeError(f"unexpected collection answer: {results!r}")
        for lead, result in zip(leads[start : start + chunk], results, strict=True):
            if not result["success"]:
                raise RuntimeError(f"lead {lead.number} refused: {result['errors']}")
            created.append(result["id"])
    return created
