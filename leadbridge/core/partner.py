"""The partner profile: who a partner is, where and what it sells, and how much it can take.

Matching reads only this model; CSV import and CRM partner accounts both produce it.
"""

from __future__ import annotations

from datetime import date, datetime, time
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator, model_validator

from leadbridge.core.countries import normalise_country
from leadbridge.core.model import new_id
from leadbridge.core.privacy.consent import PartnerFacts


class Tier(StrEnum):
    """Partner programme tiers, best first."""

    PLATINUM = "platinum"
    GOLD = "gold"
    SILVER = "silver"
    REGISTERED = "registered"

    @property
    def rank(self) -> int:
        """Higher is better: registered=1 … platinum=4."""
        return {"registered": 1, "silver": 2, "gold": 3, "platinum": 4}[self.value]


class Segment(StrEnum):
    """Customer segments by the lead company's size (see ``segment_for_employees``)."""

    SMB = "smb"
    MID_MARKET = "mid_market"
    ENTERPRISE = "enterprise"


def segment_for_employees(employees: int | None) -> Segment | None:
    """SMB below 250 employees, mid-market below 1,000, enterprise from 1,000 (EU SME line)."""
    if employees is None:
        return None
    if employees < 250:
        return Segment.SMB
    if employees < 1000:
        return Segment.MID_MARKET
    return Segment.ENTERPRISE


class PostalRange(BaseModel):
    """An inclusive range of postal codes compared as strings of equal length (``80000``-``81999``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str
    end: str

    def contains(self, postal_code: str) -> bool:
        code = postal_code.strip()[: len(self.start)]
        return len(code) == len(self.start) and self.start <= code <= self.end


class Radius(BaseModel):
    """A circle of ``km`` kilometres around a point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    km: float = Field(gt=0, allow_inf_nan=False)


class Territory(BaseModel):
    """Where a partner may receive leads: countries, optionally narrowed by postal codes; or radii.

    A lead is in the territory if its country is listed and (no postal restriction is given or
    its postal code matches a prefix or range), or if it lies within any radius.
    """

    model_config = ConfigDict(extra="forbid")

    countries: list[str] = Field(default_factory=list)
    postal_prefixes: list[str] = Field(default_factory=list)
    postal_ranges: list[PostalRange] = Field(default_factory=list)
    radii: list[Radius] = Field(default_factory=list)

    @field_validator("countries")
    @classmethod
    def _iso(cls, values: list[str]) -> list[str]:
        return [normalise_country(value) for value in values]


class Certification(BaseModel):
    """A certification for a product line at a level (1 = basic, higher is better) until expiry."""

    model_config = ConfigDict(extra="forbid")

    name: str
    level: int = Field(default=1, ge=1)
    expires: date | None = None

    def valid_on(self, day: date) -> bool:
        return self.expires is None or self.expires >= day


class Capacity(BaseModel):
    """How much a partner can take: open leads at once and new leads per day/week/month."""

    model_config = ConfigDict(extra="forbid")

    max_open: int | None = Field(default=None, ge=0)
    per_day: int | None = Field(default=None, ge=0)
    per_week: int | None = Field(default=None, ge=0)
    per_month: int | None = Field(default=None, ge=0)


class BusinessHours(BaseModel):
    """Working hours for SLA clocks: weekdays 0=Monday…6=Sunday, local times in ``timezone``."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "Europe/Berlin"
    weekdays: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])
    # Local wall-clock times without an offset: RFC 3339 calls that "partial-time" (JSON Schema's
    # "time" would demand an offset, and the documented API must match what it sends).
    start: time = Field(default=time(8, 0), json_schema_extra={"format": "partial-time"})
    end: time = Field(default=time(18, 0), json_schema_extra={"format": "partial-time"})

    @model_validator(mode="after")
    def _order(self) -> BusinessHours:
        if self.end <= self.start:
            raise ValueError("business hours must end after they start")
        if any(day < 0 or day > 6 for day in self.weekdays):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return self


class Availability(BaseModel):
    """When a partner can be offered leads and how its SLA clock runs."""

    model_config = ConfigDict(extra="forbid")

    paused_until: datetime | None = None
    holidays: list[date] = Field(default_factory=list)
    business_hours: BusinessHours | None = None


class PartnerContact(BaseModel):
    """A person at the partner who receives notifications."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    email: EmailStr
    phone: str | None = None
    role: str = "sales"
    language: str = "en"


class Partner(BaseModel):
    """A channel partner: identity, connection, and the profile matching reads."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: new_id("P"))
    external_id: str | None = None
    # The partner's own account record in the manufacturer's (home) CRM: a Salesforce Account id, a
    # HubSpot company id or a Dynamics 365 accountid. Performance figures are written there.
    home_account_id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    name: str
    active: bool = True
    connection: str = "inbox"
    contacts: list[PartnerContact] = Field(default_factory=list)
    territory: Territory = Field(default_factory=Territory)
    location_latitude: float | None = Field(default=None, ge=-90, le=90)
    location_longitude: float | None = Field(default=None, ge=-180, le=180)
    # Where the partner sits when the source gives no coordinates: geocoded on intake (see
    # core/geocode.py), which records how in ``location_geocoded``.
    location_postal_code: str | None = None
    location_city: str | None = None
    location_country: str | None = None
    location_geocoded: str | None = None
    product_lines: list[str] = Field(default_factory=list)
    products_in_stock: list[str] = Field(default_factory=list)
    certifications: list[Certification] = Field(default_factory=list)
    tier: Tier = Tier.REGISTERED
    employees: int | None = Field(default=None, ge=0)
    revenue_band: str | None = None
    industries: list[str] = Field(default_factory=list)
    segments: list[Segment] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=lambda: ["en"])
    capacity: Capacity = Field(default_factory=Capacity)
    availability: Availability = Field(default_factory=Availability)
    owned_accounts: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # free classes a lead's consent scope can name

    @field_validator("location_country")
    @classmethod
    def _iso_country(cls, value: str | None) -> str | None:
        return normalise_country(value) if value and value.strip() else None

    @field_validator("languages")
    @classmethod
    def _lower(cls, values: list[str]) -> list[str]:
        return [value.strip().lower() for value in values if value.strip()]

    @property
    def facts(self) -> PartnerFacts:
        """What a lead's consent scope reads about this partner."""
        return PartnerFacts(
            self.id, self.external_id, self.tier.value, self.location_country, frozenset(self.tags)
        )

    def is_paused(self, now: datetime) -> bool:
        """Paused when inactive, or ``paused_until`` lies in the future, or today is a holiday."""
        if not self.active:
            return True
        paused_until = self.availability.paused_until
        if paused_until is not None and paused_until > now:
            return True
        return now.date() in self.availability.holidays

    def certification_level(self, name: str, day: date) -> int:
        """The highest valid level the partner holds for ``name`` (0 when none)."""
        levels = [c.level for c in self.certifications if c.name == name and c.valid_on(day)]
        return max(levels, default=0)
