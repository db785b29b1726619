"""Canonical lead, offer, event and outcome models.

Every connector maps its CRM's records into these models and back; nothing else in leadbridge
knows a vendor's field names. Models validate on construction so that a malformed record fails
at the edge (and is quarantined) instead of deep inside routing.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadbridge.core.countries import normalise_country
from leadbridge.core.emails import Email
from leadbridge.core.privacy.consent import ConsentScope, effective_scope

_POOL_BYTES = 4096
_pool = threading.local()
_generation = 0  # bumped in a forked child, so it never hands out its parent's buffered bytes


def _forked() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forked)


def new_id(prefix: str) -> str:
    """Return a new opaque id like ``L-3f9c…``; the prefix says what kind of thing it names.

    64 bits from the OS's random source, read 4 KB at a time per thread: one ``os.urandom`` call
    per id (``uuid4``) was a hot spot in bulk intake and routing.
    """
    state = _pool.__dict__
    if state.get("generation") != _generation or state.get("at", _POOL_BYTES) >= _POOL_BYTES:
        state.update(buffer=os.urandom(_POOL_BYTES), at=0, generation=_generation)
    at = state["at"]
    state["at"] = at + 8
    return f"{prefix}-{state['buffer'][at : at + 8].hex()}"


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the only clock models use by default)."""
    return datetime.now(UTC)


class Stage(StrEnum):
    """Marketing's qualification of a lead: only MQLs and SQLs are routed."""

    LEAD = "lead"
    MQL = "mql"
    SQL = "sql"


class Address(BaseModel):
    """A postal address; ``country`` is always an ISO 3166-1 alpha-2 code."""

    model_config = ConfigDict(extra="forbid")

    street: str | None = None
    postal_code: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    # How leadbridge placed an address the source gave without coordinates ("postal_code DE 80331",
    # "postal_prefix NL 1011", "city AT Wien"; see core/geocode.py); None: the source's coordinates.
    geocoded: str | None = None

    @field_validator("country")
    @classmethod
    def _iso_country(cls, value: str | None) -> str | None:
        """Accept ISO codes and common English/German country names; reject anything else."""
        if value is None or not value.strip():
            return None
        return normalise_country(value)

    @field_validator("postal_code")
    @classmethod
    def _strip_postal(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def has_coordinates(self) -> bool:
        return self.latitude is not None and self.longitude is not None


class Consent(BaseModel):
    """What the lead agreed to. Identity leaves the manufacturer only for partners its consent
    scope allows (``core/privacy/consent.py``); without a ``scope``, ``share_with_partners`` says
    any partner or none."""

    model_config = ConfigDict(extra="forbid")

    share_with_partners: bool = False
    marketing: bool = False
    given_at: datetime | None = None
    scope: ConsentScope | None = None

    @property
    def effective(self) -> ConsentScope:
        return effective_scope(self.share_with_partners, self.scope)


class Lead(BaseModel):
    """The canonical lead every connector maps to and from.

    ``id`` is leadbridge's own id (written to partner CRMs as the external id);
    ``source_connection`` + ``external_id`` identify the record in the home CRM.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    id: str = Field(default_factory=lambda: new_id("L"))
    source_connection: str = "manual"
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: Email | None = None
    phone: str | None = None
    title: str | None = None
    company: str | None = None
    website: str | None = None
    account_id: str | None = None
    industry: str | None = None
    employees: int | None = Field(default=None, ge=0)
    annual_revenue: Decimal | None = Field(default=None, ge=0)
    address: Address = Field(default_factory=Address)
    product_interests: list[str] = Field(default_factory=list)
    language: str | None = None
    score: float | None = Field(default=None, allow_inf_nan=False)
    stage: Stage = Stage.MQL
    campaign: str | None = None
    source: str | None = None
    owner: str | None = None
    consent: Consent = Field(default_factory=Consent)
    custom: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Lead:
        """A lead read back from the database: validated like any other, except that its e-mail,
        checked when the lead came in, is not parsed again (``email_validator`` costs more than the
        whole rest of the model, and stored leads are read in every routing and sync batch)."""
        email = data.get("email")
        lead = cls.model_validate({**data, "email": None})
        lead.email = email
        return lead

    @field_validator("email", mode="before")
    @classmethod
    def _normalise_email(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
            return value or None
        return value

    @field_validator("language")
    @classmethod
    def _language_code(cls, value: str | None) -> str | None:
        """Languages are ISO 639-1 codes in lower case (``de``, ``en``)."""
        if value is None or not value.strip():
            return None
        code = value.strip().lower().replace("_", "-").split("-")[0]
        if len(code) != 2 or not code.isalpha():
            raise ValueError(f"language must be an ISO 639-1 code like 'de', got {value!r}")
        return code

    @field_validator("product_interests", mode="before")
    @classmethod
    def _split_products(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)

    @property
    def is_qualified(self) -> bool:
        return self.stage in (Stage.MQL, Stage.SQL)


class OfferStatus(StrEnum):
    """Where one offer (a lead put before one partner) stands."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    RETURNED = "returned"

    @property
    def is_open(self) -> bool:
        return self is OfferStatus.PENDING


class Offer(BaseModel):
    """A lead put before one partner with a deadline; ``decision`` is the stored routing audit."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: new_id("O"))
    lead_id: str
    partner_id: str
    round: int = Field(default=1, ge=1)
    mode: str = "assign"
    status: OfferStatus = OfferStatus.PENDING
    offered_at: datetime = Field(default_factory=utcnow)
    deadline: datetime | None = None
    decided_at: datetime | None = None
    reason_code: str | None = None
    comment: str | None = None
    decision: dict[str, Any] | None = None


class OutcomeResult(StrEnum):
    WON = "won"
    LOST = "lost"


class Outcome(BaseModel):
    """How a partner's work on a lead ended: won with an amount, or lost with a reason."""

    model_config = ConfigDict(extra="forbid")

    result: OutcomeResult
    amount: Decimal | None = Field(default=None, ge=0)
    currency: str = "EUR"
    close_date: date | None = None
    reason_code: str | None = None
    comment: str | None = None

    @field_validator("reason_code")
    @classmethod
    def _strip(cls, value: str | None) -> str | None:
        return value.strip() or None if value else None


class LeadEvent(BaseModel):
    """One appended fact in a lead's life. ``idempotency_key`` is unique across all events."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(default_factory=lambda: new_id("E"))
    lead_id: str
    kind: str
    from_state: str | None = None
    to_state: str
    actor: str
    source_system: str = "leadbridge"
    occurred_at: datetime = Field(default_factory=utcnow)
    idempotency_key: str
    partner_id: str | None = None
    offer_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
