"""The tables the stand-in knows: entity sets, primary ids, columns with their Dataverse types and
maximum lengths, alternate keys, and the lookups a write may bind (``x@odata.bind``).

Custom columns carry the ``new_`` publisher prefix, as an unmanaged customisation would. The
leadbridge columns are present from the start (an admin created them); ``EntityDefinitions``
answers from here and ``POST …/Attributes`` adds more at runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Column:
    """One attribute: ``kind`` is the Dataverse ``AttributeType`` (String, Integer, Money, …)."""

    name: str
    kind: str
    max_length: int | None = None
    custom: bool = False
    read_only: bool = False
    date_only: bool = False  # a DateTime column with Format DateOnly: "2024-05-01" on the wire
    required: bool = False
    options: tuple[tuple[int, str], ...] = ()  # Picklist/State/Status: (value, label)


@dataclass(frozen=True)
class Lookup:
    """A single-valued navigation property: ``nav@odata.bind`` sets ``_<column>_value``."""

    nav: str
    column: str
    target_set: str


@dataclass
class Table:
    """One table (``EntityDefinitions`` row) and its columns."""

    logical: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: dict[str, Column] = field(default_factory=dict)
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # key name -> columns
    lookups: dict[str, Lookup] = field(default_factory=dict)
    change_tracking: bool = True

    def add(self, *columns: Column) -> None:
        for column in columns:
            self.columns[column.name] = column


def _s(name: str, length: int, **kw: object) -> Column:
    return Column(name, "String", length, **kw)  # type: ignore[arg-type]


def _system(table: Table) -> None:
    table.add(
        Column(table.primary_id, "Uniqueidentifier", read_only=True),
        Column("createdon", "DateTime", read_only=True),
        Column("modifiedon", "DateTime", read_only=True),
        Column("versionnumber", "BigInt", read_only=True),
        Column("_ownerid_value", "Owner", read_only=True),
    )


LEAD_STATES = ((0, "Open"), (1, "Qualified"), (2, "Disqualified"))
LEAD_STATUSES = {
    0: ((1, "New"), (2, "Contacted")),
    1: ((3, "Qualified"),),
    2: ((4, "Lost"), (5, "Cannot Contact"), (6, "No Longer Interested"), (7, "Canceled")),
}
OPPORTUNITY_STATES = ((0, "Open"), (1, "Won"), (2, "Lost"))
OPPORTUNITY_STATUSES = {
    0: ((1, "In Progress"), (2, "On Hold")),
    1: ((3, "Won"),),
    2: ((4, "Canceled"), (5, "Out-Sold")),
}
PARTNER_STATUS_OPTIONS = (
    (100000000, "Accepted"),
    (100000001, "Declined"),
    (100000002, "Working"),
    (100000003, "Won"),
    (100000004, "Lost"),
    (100000005, "Returned"),
)
LEADBRIDGE_KEY = "new_leadbridgeid"


def _statuses(table: Table, states: tuple[tuple[int, str], ...], statuses: dict[int, tuple]) -> None:
    table.add(
        Column("statecode", "State", options=states),
        Column("statuscode", "Status", options=tuple(o for group in statuses.values() for o in group)),
    )


def lead_table() -> Table:
    table = Table("lead", "leads", "leadid", "fullname")
    _system(table)
    table.add(
        _s("subject", 300),
        _s("firstname", 50),
        _s("lastname", 50),
        Column("fullname", "String", 160, read_only=True),
        _s("companyname", 100),
        _s("jobtitle", 100),
        _s("emailaddress1", 100),
        _s("telephone1", 50),
        _s("mobilephone", 20),
        _s("websiteurl", 200),
        Column("numberofemployees", "Integer"),
        Column("revenue", "Money"),
        _s("address1_line1", 250),
        _s("address1_postalcode", 20),
        _s("address1_city", 80),
        _s("address1_stateorprovince", 50),
        _s("address1_country", 80),
        Column("address1_latitude", "Double"),
        Column("address1_longitude", "Double"),
        Column(
            "leadsourcecode",
            "Picklist",
            options=(
                (1, "Advertisement"),
                (2, "Employee Referral"),
                (3, "External Referral"),
                (4, "Partner"),
                (8, "Web"),
                (10, "Other"),
            ),
        ),
        Column("donotemail", "Boolean"),
        Column("description", "Memo", 2000),
        Column("_parentaccountid_value", "Lookup"),
        Column("_parentcontactid_value", "Lookup"),
    )
    _statuses(table, LEAD_STATES, LEAD_STATUSES)
    custom = dict(custom=True)
    table.add(
        _s(LEADBRIDGE_KEY, 100, **custom),
        _s("new_lifecyclestage", 20, **custom),
        _s("new_industry", 100, **custom),
        Column("new_consentsharewithpartners", "Boolean", **custom),  # type: ignore[arg-type]
        Column("new_consentgivenat", "DateTime", **custom),  # type: ignore[arg-type]
        _s("new_productinterest", 200, **custom),
        Column("new_leadscore", "Decimal", **custom),  # type: ignore[arg-type]
        _s("new_campaignname", 100, **custom),
        _s("new_preferredlanguage", 10, **custom),
        _s("new_leadbridgepartner", 100, **custom),
        _s("new_leadbridgestatus", 40, **custom),
        Column("new_leadbridgeofferedat", "DateTime", **custom),  # type: ignore[arg-type]
        Column("new_leadbridgeclaimedat", "DateTime", **custom),  # type: ignore[arg-type]
        _s("new_leadbridgeoutcome", 20, **custom),
        _s("new_leadbridgereason", 200, **custom),
        Column("new_leadbridgeexpectedrevenue", "Money", **custom),  # type: ignore[arg-type]
        Column("new_leadbridgeclosedate", "DateTime", custom=True, date_only=True),
        Column("new_leadbridgenextfollowup", "DateTime", custom=True, date_only=True),
        Column("new_partnerstatus", "Picklist", custom=True, options=PARTNER_STATUS_OPTIONS),
    )
    table.keys["new_leadbridgeid_key"] = (LEADBRIDGE_KEY,)
    table.lookups["parentaccountid"] = Lookup("parentaccountid", "_parentaccountid_value", "accounts")
    table.lookups["parentcontactid"] = Lookup("parentcontactid", "_parentcontactid_value", "contacts")
    return table


def contact_table() -> Table:
    table = Table("contact", "contacts", "contactid", "fullname")
    _system(table)
    table.add(
        _s("firstname", 50),
        _s("lastname", 50),
        _s("emailaddress1", 100),
        _s("telephone1", 50),
        Column("_parentcustomerid_value", "Customer"),
    )
    _statuses(table, ((0, "Active"), (1, "Inactive")), {0: ((1, "Active"),), 1: ((2, "Inactive"),)})
    table.lookups["parentcustomerid_account"] = Lookup(
        "parentcustomerid_account", "_parentcustomerid_value", "accounts"
    )
    return table


def account_table() -> Table:
    table = Table("account", "accounts", "accountid", "name")
    _system(table)
    table.add(
        _s("name", 160), _s("accountnumber", 20), _s("address1_city", 80), _s("address1_postalcode", 20)
    )
    # partner figures leadbridge writes (a mapping's partner_performance section); custom columns
    table.add(
        Column("new_lb_offers", "Integer"),
        Column("new_lb_won", "Integer"),
        Column("new_lb_acceptancerate", "Decimal"),
        Column("new_lb_medianaccepthours", "Decimal"),
        Column("new_lb_conversion", "Decimal"),
        Column("new_lb_revenuewon", "Money"),
        Column("new_lb_slacompliance", "Decimal"),
        Column("new_lb_averagerating", "Decimal"),
        Column("new_lb_performanceupdated", "DateTime"),
    )
    _statuses(table, ((0, "Active"), (1, "Inactive")), {0: ((1, "Active"),), 1: ((2, "Inactive"),)})
    return table


def opportunity_table() -> Table:
    table = Table("opportunity", "opportunities", "opportunityid", "name")
    _system(table)
    table.add(
        _s("name", 300),
        Column("estimatedvalue", "Money"),
        Column("estimatedclosedate", "DateTime"),
        Column("actualvalue", "Money"),
        Column("actualclosedate", "DateTime"),
        Column("_parentaccountid_value", "Lookup"),
        Column("_originatingleadid_value", "Lookup"),
    )
    _statuses(table, OPPORTUNITY_STATES, OPPORTUNITY_STATUSES)
    table.lookups["parentaccountid"] = Lookup("parentaccountid", "_parentaccountid_value", "accounts")
    table.lookups["originatingleadid"] = Lookup("originatingleadid", "_originatingleadid_value", "leads")
    return table


def task_table() -> Table:
    table = Table("task", "tasks", "activityid", "subject")
    _system(table)
    table.add(
        _s("subject", 200), Column("description", "Memo", 2000), Column("_regardingobjectid_value", "Lookup")
    )
    _statuses(
        table,
        ((0, "Open"), (1, "Completed"), (2, "Canceled")),
        {0: ((2, "Not Started"), (3, "In Progress")), 1: ((5, "Completed"),), 2: ((6, "Canceled"),)},
    )
    table.lookups["regardingobjectid_lead_task"] = Lookup(
        "regardingobjectid_lead_task", "_regardingobjectid_value", "leads"
    )
    return table


def standard_tables() -> dict[str, Table]:
    """Entity set name → table, fresh for one org."""
    tables = (lead_table(), contact_table(), account_table(), opportunity_table(), task_table())
    return {table.entity_set: table for table in tables}


# The statecode/statuscode a new row gets, per table.
DEFAULT_STATE = {"lead": (0, 1), "opportunity": (0, 1), "contact": (0, 1), "account": (0, 1), "task": (0, 2)}
