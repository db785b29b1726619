"""The standard catalogue: Lead, Contact, Account, Task, User with their standard fields, the
manufacturer's marketing custom fields, and the ``LeadBridge_*__c`` fields leadbridge writes back.

To extend the catalogue, add a line to a list below; for one org only, use
``org.add_field("Lead", typed("My_Field__c", "date"))``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from leadbridge.sandbox.salesforce.schema import FieldDef, ObjectDef, Schema


def text(name: str, length: int = 255, **kw: Any) -> FieldDef:
    """A string field of ``length`` characters."""
    return FieldDef(name, "string", length=length, **kw)


_TYPE_DEFAULTS: dict[str, dict[str, int]] = {
    "email": {"length": 80},
    "phone": {"length": 40},
    "url": {"length": 255},
    "textarea": {"length": 32000},
    "double": {"precision": 18, "scale": 15},
    "currency": {"precision": 18, "scale": 2},
    "int": {"precision": 9},
}


def typed(name: str, kind: str, **kw: Any) -> FieldDef:
    """A field of ``kind`` with Salesforce's usual length/precision for that type."""
    return FieldDef(name, kind, **{**_TYPE_DEFAULTS.get(kind, {}), **kw})


def pick(name: str, values: str, *, default: str | None = None, multi: bool = False, **kw: Any) -> FieldDef:
    """A picklist; ``values`` separated by ``|``."""
    kind = "multipicklist" if multi else "picklist"
    return FieldDef(
        name, kind, length=4099 if multi else 255, picklist=tuple(values.split("|")), default=default, **kw
    )


def ref(name: str, *to: str, relationship: str | None = None, **kw: Any) -> FieldDef:
    """A lookup to ``to`` objects; the relationship name drops ``Id`` (``OwnerId`` → ``Owner``)."""
    rel = relationship or (name[:-2] if name.endswith("Id") else name.replace("__c", "__r"))
    return FieldDef(name, "reference", length=18, reference_to=to, relationship_name=rel, **kw)


def flag(name: str, default: bool = False, **kw: Any) -> FieldDef:
    """A checkbox: never null, ``default`` when absent."""
    return FieldDef(name, "boolean", nillable=False, default=default, **kw)


def readonly(definition: FieldDef) -> FieldDef:
    """The same field, neither createable nor updateable (system and formula-like fields)."""
    return replace(definition, createable=False, updateable=False)


INDUSTRY = (
    "Agriculture|Construction|Consulting|Education|Electronics|Energy|Engineering|Environmental|"
    "Government|Healthcare|Hospitality|Machinery|Manufacturing|Not For Profit|Other|Real Estate|"
    "Retail|Technology|Transportation|Utilities"
)
LEAD_SOURCE = "Web|Phone Inquiry|Partner Referral|Purchased List|Trade Show|Other"
PRODUCT_LINES = "heat_pumps|solar_inverters|batteries|wallboxes|ventilation"
LEAD_STATUS = "Open - Not Contacted|Working - Contacted|Closed - Converted|Closed - Not Converted"
LEADBRIDGE_STATUS = "Routing|Offered|Accepted|Working|Won|Lost|Returned|Declined|Expired|Direct Sales|Nurture"


def _address(prefix: str) -> list[FieldDef]:
    """The address components and their read-only compound field (``Address``, ``MailingAddress``…)."""
    compound = f"{prefix}Address"
    parts = [
        typed(f"{prefix}Street", "textarea", length=255),
        text(f"{prefix}City", 40),
        text(f"{prefix}State", 80),
        text(f"{prefix}PostalCode", 20),
        text(f"{prefix}Country", 80),
        typed(f"{prefix}Latitude", "double", precision=18, scale=15),
        typed(f"{prefix}Longitude", "double", precision=18, scale=15),
        pick(
            f"{prefix}GeocodeAccuracy",
            "Address|NearAddress|Block|Street|ExtendedZip|Zip|City|County|State|Unknown",
        ),
    ]
    label = f"{prefix} Address".strip()
    whole = readonly(FieldDef(compound, "address", label=label, compound=None))
    return [*(replace(part, compound=compound) for part in parts), whole]


# Written back by leadbridge (the external id keys every delivery and write-back as an upsert).
LEADBRIDGE_FIELDS: list[FieldDef] = [
    text("LeadBridge_Id__c", 40, external_id=True, unique=True, label="LeadBridge Id"),
    text("LeadBridge_Partner__c", 255, label="LeadBridge Partner"),
    pick("LeadBridge_Status__c", LEADBRIDGE_STATUS, label="LeadBridge Status"),
    typed("LeadBridge_Offered_At__c", "datetime", label="LeadBridge Offered At"),
    typed("LeadBridge_Claimed_At__c", "datetime", label="LeadBridge Claimed At"),
    pick("LeadBridge_Outcome__c", "Won|Lost", label="LeadBridge Outcome"),
    text("LeadBridge_Reason__c", 255, label="LeadBridge Reason"),
    typed("LeadBridge_Expected_Revenue__c", "currency", label="LeadBridge Expected Revenue"),
    typed("LeadBridge_Close_Date__c", "date", label="LeadBridge Close Date"),
    typed("LeadBridge_Next_Follow_Up__c", "date", label="LeadBridge Next Follow-Up"),
]

# Partner figures leadbridge writes onto the partner's Account (a mapping's partner_performance section).
PERFORMANCE_FIELDS: list[FieldDef] = [
    typed("LeadBridge_Offers__c", "double", precision=18, scale=0, label="LeadBridge Offers"),
    typed("LeadBridge_Won__c", "double", precision=18, scale=0, label="LeadBridge Won"),
    typed(
        "LeadBridge_Acceptance_Rate__c", "percent", precision=5, scale=2, label="LeadBridge Acceptance Rate"
    ),
    typed(
        "LeadBridge_Median_Accept_Hours__c",
        "double",
        precision=10,
        scale=2,
        label="LeadBridge Median Accept Hours",
    ),
    typed("LeadBridge_Conversion__c", "percent", precision=5, scale=2, label="LeadBridge Conversion"),
    typed("LeadBridge_Revenue_Won__c", "currency", precision=16, scale=2, label="LeadBridge Revenue Won"),
    typed("LeadBridge_SLA_Compliance__c", "percent", precision=5, scale=2, label="LeadBridge SLA Compliance"),
    typed("LeadBridge_Average_Rating__c", "double", precision=3, scale=2, label="LeadBridge Average Rating"),
    typed("LeadBridge_Performance_Updated__c", "datetime", label="LeadBridge Performance Updated"),
]

# The manufacturer's own custom lead fields the seeded data fills (qualification, products, consent).
MARKETING_FIELDS: list[FieldDef] = [
    pick("Lifecycle_Stage__c", "Lead|MQL|SQL", default="Lead", label="Lifecycle Stage"),
    pick("Product_Interest__c", PRODUCT_LINES, multi=True, label="Product Interest"),
    typed("Lead_Score__c", "double", precision=3, scale=0, label="Lead Score"),
    text("Campaign_Name__c", 255, label="Campaign"),
    pick("Preferred_Language__c", "de|en|fr|nl|it|pl|da|cs", label="Preferred Language"),
    flag("Consent_Share_With_Partners__c", label="Consent: share with partners"),
    typed("Consent_Given_At__c", "datetime", label="Consent given at"),
]

_OWNER = ref("OwnerId", "User", nillable=False, defaulted=True, relationship="Owner")
# A lead may be owned by a queue: its owner is polymorphic (the stand-in has no Group records).
_LEAD_OWNER = ref("OwnerId", "Group", "User", nillable=False, defaulted=True, relationship="Owner")


def standard_objects() -> dict[str, tuple[str, list[FieldDef]]]:
    """Object name → (key prefix, fields) of the standard catalogue."""
    name_parts = [
        pick("Salutation", "Mr.|Ms.|Mrs.|Dr.|Prof.", compound="Name"),
        text("FirstName", 40, compound="Name"),
        text("LastName", 80, nillable=False, compound="Name"),
        readonly(text("Name", 121)),
    ]
    return {
        "Lead": (
            "00Q",
            [
                *name_parts,
                text("Title", 128),
                text("Company", 255, nillable=False),
                *_address(""),
                typed("Phone", "phone"),
                typed("MobilePhone", "phone"),
                typed("Email", "email"),
                typed("Website", "url"),
                typed("Description", "textarea"),
                pick("LeadSource", LEAD_SOURCE),
                pick("Status", LEAD_STATUS, default="Open - Not Contacted", nillable=False),
                pick("Industry", INDUSTRY),
                pick("Rating", "Hot|Warm|Cold"),
                typed("AnnualRevenue", "currency"),
                typed("NumberOfEmployees", "int", precision=8),
                _LEAD_OWNER,
                readonly(flag("IsConverted")),
                readonly(typed("ConvertedDate", "date")),
                readonly(ref("ConvertedAccountId", "Account")),
                readonly(ref("ConvertedContactId", "Contact")),
                flag("HasOptedOutOfEmail"),
                flag("DoNotCall"),
                readonly(typed("LastActivityDate", "date")),
                *MARKETING_FIELDS,
                *LEADBRIDGE_FIELDS,
            ],
        ),
        "Contact": (
            "003",
            [
                *name_parts,
                ref("AccountId", "Account"),
                text("Title", 128),
                text("Department", 80),
                typed("Email", "email"),
                typed("Phone", "phone"),
                typed("MobilePhone", "phone"),
                *_address("Mailing"),
                pick("LeadSource", LEAD_SOURCE),
                flag("HasOptedOutOfEmail"),
                typed("Description", "textarea"),
                _OWNER,
                *LEADBRIDGE_FIELDS[:1],
            ],
        ),
        "Account": (
            "001",
            [
                text("Name", 255, nillable=False),
                pick(
                    "Type",
                    "Prospect|Customer - Direct|Customer - Channel|Channel Partner / Reseller|"
                    "Installation Partner|Other",
                ),
                ref("ParentId", "Account", relationship="Parent"),
                pick("Industry", INDUSTRY),
                typed("AnnualRevenue", "currency"),
                typed("NumberOfEmployees", "int"),
                *_address("Billing"),
                typed("Phone", "phone"),
                typed("Website", "url"),
                typed("Description", "textarea"),
                _OWNER,
                *LEADBRIDGE_FIELDS[:1],
                *PERFORMANCE_FIELDS,
            ],
        ),
        "Task": (
            "00T",
            [
                text("Subject", 255),
                pick(
                    "Status",
                    "Not Started|In Progress|Completed|Waiting on someone else|Deferred",
                    default="Not Started",
                    nillable=False,
                ),
                pick("Priority", "High|Normal|Low", default="Normal", nillable=False),
                pick("Type", "Call|Email|Meeting|Other"),
                typed("ActivityDate", "date"),
                typed("Description", "textarea"),
                ref("WhoId", "Lead", "Contact", relationship="Who"),
                ref("WhatId", "Account", relationship="What"),
                _OWNER,
                readonly(flag("IsClosed")),
            ],
        ),
        "User": (
            "005",
            [
                text("Username", 80, nillable=False, unique=True),
                text("FirstName", 40),
                text("LastName", 80, nillable=False),
                readonly(text("Name", 121)),
                typed("Email", "email", nillable=False),
                text("Alias", 8, nillable=False),
                flag("IsActive", True),
                text("CompanyName", 80),
                text("Title", 80),
                text("Department", 80),
                pick(
                    "TimeZoneSidKey",
                    "Europe/Berlin|Europe/Vienna|Europe/Zurich|Europe/Amsterdam|Europe/Paris",
                    default="Europe/Berlin",
                    nillable=False,
                ),
                pick("LanguageLocaleKey", "de|en_US|fr|nl_NL", default="de", nillable=False),
            ],
        ),
    }


def system_fields(prefix_object: str) -> list[FieldDef]:
    """The audit fields every object has (Id, IsDeleted, CreatedDate, …, SystemModstamp)."""
    return [
        readonly(FieldDef("Id", "id", length=18, nillable=False, label=f"{prefix_object} ID")),
        readonly(flag("IsDeleted")),
        readonly(typed("CreatedDate", "datetime", nillable=False)),
        readonly(ref("CreatedById", "User", relationship="CreatedBy", nillable=False)),
        readonly(typed("LastModifiedDate", "datetime", nillable=False)),
        readonly(ref("LastModifiedById", "User", relationship="LastModifiedBy", nillable=False)),
        readonly(typed("SystemModstamp", "datetime", nillable=False)),
    ]


def standard_schema() -> Schema:
    """A fresh schema with the standard catalogue (each org gets its own, so it can be customised)."""
    objects = []
    for name, (prefix, fields) in standard_objects().items():
        obj = ObjectDef(name, prefix)
        for definition in [*system_fields(name), *fields]:
            if definition.type == "picklist" and not definition.custom:
                definition = replace(definition, length=40)  # standard picklists: 40 characters
            obj.add(definition)
        objects.append(obj)
    return Schema(objects)
