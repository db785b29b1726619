"""Flat, precomputed views of partners and leads that filters and scorers read quickly.

Rules: a ``PartnerVec`` is computed once per partner per day (certification levels depend on the
day); a ``LeadCtx`` once per lead. Postal codes are compared normalised (``geo.normalise_postal``).
A lead without coordinates gets its postal region's centroid from the gazetteer; a partner without
a location uses the centre of its first radius territory.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from leadbridge.core.geo import Gazetteer, normalise_postal
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner, Segment, segment_for_employees
from leadbridge.core.privacy.consent import ConsentScope, PartnerFacts


@dataclass(frozen=True, slots=True)
class PartnerVec:
    """Everything matching needs about one partner, as plain values.

    ``caps`` lists only the capacity caps set: (label, PartnerStats counter, cap).
    """

    id: str
    tier: str
    tier_rank: int
    active: bool
    countries: frozenset[str]
    prefixes: tuple[str, ...]
    ranges: tuple[tuple[str, str], ...]
    radii: tuple[tuple[float, float, float], ...]
    latitude: float | None
    longitude: float | None
    products: frozenset[str]
    stock: frozenset[str]
    cert_levels: dict[str, int]
    industries: frozenset[str]
    segments: frozenset[str]
    languages: frozenset[str]
    max_open: int | None
    per_day: int | None
    per_week: int | None
    per_month: int | None
    paused_until: datetime | None
    holidays: frozenset[date]
    owned_accounts: frozenset[str]

    has_postal_restriction: bool
    caps: tuple[tuple[str, str, int], ...]
    facts: PartnerFacts | None = None  # what a lead's consent scope reads


def partner_vec(partner: Partner, day: date) -> PartnerVec:
    """Flatten ``partner`` for matching on ``day`` (certifications valid that day only)."""
    territory = partner.territory
    levels: dict[str, int] = {}
    for cert in partner.certifications:
        if cert.valid_on(day) and cert.level > levels.get(cert.name, 0):
            levels[cert.name] = cert.level
    lat, lon = partner.location_latitude, partner.location_longitude
    if (lat is None or lon is None) and territory.radii:
        lat, lon = territory.radii[0].latitude, territory.radii[0].longitude
    return PartnerVec(
        id=partner.id,
        tier=partner.tier.value,
        tier_rank=partner.tier.rank,
        active=partner.active,
        countries=frozenset(territory.countries),
        prefixes=tuple(normalise_postal(p) for p in territory.postal_prefixes if p.strip()),
        ranges=tuple((normalise_postal(r.start), normalise_postal(r.end)) for r in territory.postal_ranges),
        radii=tuple((r.latitude, r.longitude, r.km) for r in territory.radii),
        latitude=lat,
        longitude=lon,
        products=frozenset(partner.product_lines),
        stock=frozenset(partner.products_in_stock),
        cert_levels=levels,
        industries=frozenset(i.casefold() for i in partner.industries),
        segments=frozenset(s.value for s in partner.segments),
        languages=frozenset(partner.languages),
        max_open=partner.capacity.max_open,
        per_day=partner.capacity.per_day,
        per_week=partner.capacity.per_week,
        per_month=partner.capacity.per_month,
        paused_until=_aware(partner.availability.paused_until),
        holidays=frozenset(partner.availability.holidays),
        owned_accounts=frozenset(partner.owned_accounts),
        has_postal_restriction=bool(territory.postal_prefixes or territory.postal_ranges),
        facts=partner.facts,
        caps=tuple(
            (label, counter, cap)
            for label, counter, cap in (
                ("open and pending leads", "holding", partner.capacity.max_open),
                ("leads today", "today", partner.capacity.per_day),
                ("leads this week", "this_week", partner.capacity.per_week),
                ("leads this month", "this_month", partner.capacity.per_month),
            )
            if cap is not None
        ),
    )


def _aware(moment: datetime | None) -> datetime | None:
    """CSV dates like ``2026-12-01`` arrive without a zone; leadbridge's clock is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class LeadCtx:
    """The facts about one lead that filters and scorers read, plus its routing history."""

    lead_id: str
    country: str | None
    postal: str
    latitude: float | None
    longitude: float | None
    products: tuple[str, ...]
    product_set: frozenset[str]
    industry: str | None
    segment: str | None
    language: str | None
    consent: bool
    account_id: str | None
    account_owners: frozenset[str]
    excluded: dict[str, str]
    now: datetime
    day: date
    consent_scope: ConsentScope | None = None  # None: ``consent`` alone decides (any or none)


def lead_ctx(
    lead: Lead,
    gazetteer: Gazetteer,
    *,
    now: datetime,
    excluded: dict[str, str],
    account_owners: frozenset[str] = frozenset(),
) -> LeadCtx:
    """Flatten ``lead``; ``excluded`` maps partner id → why it may not get this lead again."""
    address = lead.address
    lat, lon = address.latitude, address.longitude
    if lat is None or lon is None:
        found = gazetteer.coordinates(address.country, address.postal_code)
        lat, lon = found if found else (None, None)
    segment: Segment | None = segment_for_employees(lead.employees)
    return LeadCtx(
        lead_id=lead.id,
        country=address.country,
        postal=normalise_postal(address.postal_code or ""),
        latitude=lat,
        longitude=lon,
        products=tuple(lead.product_interests),
        product_set=frozenset(lead.product_interests),
        industry=lead.industry.casefold() if lead.industry else None,
        segment=segment.value if segment else None,
        language=lead.language,
        consent=lead.consent.effective.share != "none",
        account_id=lead.account_id,
        account_owners=account_owners,
        excluded=excluded,
        now=now,
        day=now.date(),
        consent_scope=lead.consent.effective,
    )


def account_owner_map(vecs: Iterable[PartnerVec]) -> dict[str, frozenset[str]]:
    """Account id → the partners that own it (``owned_accounts``)."""
    owners: dict[str, set[str]] = {}
    for vec in vecs:
        for account in vec.owned_accounts:
            owners.setdefault(account, set()).add(vec.id)
    return {account: frozenset(ids) for account, ids in owners.items()}
