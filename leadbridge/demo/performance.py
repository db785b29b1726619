"""The demo's partner performance write-back: each partner has an account in the manufacturer's CRM,
and the home connection's mapping carries a ``partner_performance`` section writing the figures there.

The shipped default mappings have no such section (an org without the account fields would
dead-letter every write); the demo's home mapping is the shipped default plus the section below,
written next to the sandbox's CA file, as an admin would keep their own mapping file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from leadbridge.core.partner import Partner
from leadbridge.mappings.loader import default_mapping_path
from leadbridge.sandbox import Sandbox

SECTIONS = {
    "salesforce": """
partner_performance:          # partner figures onto the partner's Account (docs/mappings.md)
  object: Account
  window_days: 90
  every_hours: 24
  fields:
    offers: LeadBridge_Offers__c
    won: LeadBridge_Won__c
    acceptance_rate: LeadBridge_Acceptance_Rate__c
    median_accept_hours: LeadBridge_Median_Accept_Hours__c
    conversion: LeadBridge_Conversion__c
    revenue_won: LeadBridge_Revenue_Won__c
    sla_compliance: LeadBridge_SLA_Compliance__c
    average_rating: LeadBridge_Average_Rating__c
    updated_at: LeadBridge_Performance_Updated__c
""",
    "hubspot": """
partner_performance:          # partner figures onto the partner's company (docs/mappings.md)
  object: companies
  window_days: 90
  every_hours: 24
  fields:
    offers: leadbridge_offers
    won: leadbridge_won
    acceptance_rate: leadbridge_acceptance_rate
    median_accept_hours: leadbridge_median_accept_hours
    conversion: leadbridge_conversion
    revenue_won: leadbridge_revenue_won
    sla_compliance: leadbridge_sla_compliance
    average_rating: leadbridge_average_rating
    updated_at: leadbridge_performance_updated
""",
    "dynamics": """
partner_performance:          # partner figures onto the partner's account (docs/mappings.md)
  object: account
  window_days: 90
  every_hours: 24
  fields:
    offers: new_lb_offers
    won: new_lb_won
    acceptance_rate: new_lb_acceptancerate
    median_accept_hours: new_lb_medianaccepthours
    conversion: new_lb_conversion
    revenue_won: new_lb_revenuewon
    sla_compliance: new_lb_slacompliance
    average_rating: new_lb_averagerating
    updated_at: new_lb_performanceupdated
""",
}
DEFAULT_OBJECT = {"salesforce": "Lead", "hubspot": "contacts", "dynamics": "lead"}


def home_mapping(kind: str, directory: Path) -> Path:
    """The shipped manufacturer mapping of ``kind`` plus its ``partner_performance`` section."""
    text = default_mapping_path(kind, DEFAULT_OBJECT[kind], "manufacturer").read_text(encoding="utf-8")
    path = directory / f"demo-home-{kind}.yaml"
    path.write_text(text.rstrip() + "\n" + SECTIONS[kind], encoding="utf-8")
    return path


def with_accounts(box: Sandbox, kind: str, partners: list[Partner]) -> list[Partner]:
    """Each partner's account created in the home CRM (as the manufacturer keeps its partners there),
    and the partner linked to it by ``home_account_id``."""
    linked = []
    for partner in partners:
        account_id: Any
        if kind == "hubspot":
            account_id = box.hubspot.portal("manufacturer").create("companies", {"name": partner.name}).id
        elif kind == "dynamics":
            row = box.dynamics.org("manufacturer").create("accounts", {"name": partner.name[:160]})
            account_id = row["accountid"]
        else:
            org = box.salesforce.org("manufacturer")
            account_id = org.create("Account", {"Name": partner.name, "Type": "Channel Partner / Reseller"})
        linked.append(partner.model_copy(update={"home_account_id": str(account_id)}))
    return linked


def accounts_with_figures(box: Sandbox, kind: str) -> int:
    """How many partner accounts in the home CRM carry figures leadbridge wrote (the demo summary)."""
    if kind == "hubspot":
        store = box.hubspot.portal("manufacturer").store("companies")
        return sum(1 for r in store.live() if r.properties.get("leadbridge_performance_updated"))
    if kind == "dynamics":
        rows = box.dynamics.org("manufacturer").records("accounts")
        return sum(1 for r in rows if r.get("new_lb_performanceupdated"))
    records = box.salesforce.org("manufacturer").records("Account")
    return sum(1 for r in records if r.get("LeadBridge_Performance_Updated__c"))
