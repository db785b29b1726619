"""Partner imports as partial updates: a file changes only what it says.

Rules:
- a column the file does not have leaves the stored value alone; so does an empty cell, unless
  ``clear_empty`` (``partners import --clear-empty``), which clears it;
- what no CSV column carries — holidays, business hours, owned accounts, tags, anything set through
  the API — is always kept;
- a new location (postal code, city or country) without new coordinates drops coordinates that
  were only geocoded from the old one, so the partner is placed again;
- a row that changes nothing is counted ``unchanged`` and not written.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.csvfile import partner_from_csv, partner_key
from leadbridge.core.geocode import geocode_partner
from leadbridge.core.partner import Partner
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.tables import PartnerRow

# CSV column → the Partner fields (dotted paths) it fills.
COLUMN_PATHS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "active": ("active",),
    "connection": ("connection",),
    "contact_name": ("contacts",),
    "contact_email": ("contacts",),
    "contact_phone": ("contacts",),
    "languages": ("languages",),
    "countries": ("territory.countries",),
    "postal_prefixes": ("territory.postal_prefixes",),
    "postal_ranges": ("territory.postal_ranges",),
    "radius": ("territory.radii",),
    "latitude": ("location_latitude",),
    "longitude": ("location_longitude",),
    "postal_code": ("location_postal_code",),
    "city": ("location_city",),
    "country": ("location_country",),
    "product_lines": ("product_lines",),
    "products_in_stock": ("products_in_stock",),
    "certifications": ("certifications",),
    "tier": ("tier",),
    "employees": ("employees",),
    "revenue_band": ("revenue_band",),
    "industries": ("industries",),
    "segments": ("segments",),
    "max_open": ("capacity.max_open",),
    "per_day": ("capacity.per_day",),
    "per_week": ("capacity.per_week",),
    "per_month": ("capacity.per_month",),
    "paused_until": ("availability.paused_until",),
    "home_account_id": ("home_account_id",),
}
_LOCATION = {"location_postal_code", "location_city", "location_country"}
_COORDINATES = {"location_latitude", "location_longitude"}


@dataclass(frozen=True)
class PartnerUpdate:
    """A partner as one CSV row describes it, and which of its fields the row actually sets."""

    partner: Partner
    paths: frozenset[str]


def update_from_csv(row: dict[str, str | None], *, clear_empty: bool = False) -> PartnerUpdate:
    """The row's partner and the fields it sets (module rules)."""
    partner = partner_from_csv(row)
    paths = {
        path
        for column, targets in COLUMN_PATHS.items()
        if column in row and (clear_empty or (row[column] or "").strip())
        for path in targets
    }
    return PartnerUpdate(partner, frozenset(paths | {"name"}))


def update_key(update: PartnerUpdate) -> str:
    return partner_key(update.partner)


def merged(stored: dict[str, Any], fresh: dict[str, Any], paths: frozenset[str]) -> dict[str, Any]:
    """``stored`` with the values of ``fresh`` at ``paths`` (module rules)."""
    result = copy.deepcopy(stored)
    for path in sorted(paths):
        *parents, leaf = path.split(".")
        target, source = result, fresh
        for part in parents:
            target = target.setdefault(part, {})
            source = source.get(part) or {}
        target[leaf] = copy.deepcopy(source.get(leaf))
    if paths & _LOCATION and not paths & _COORDINATES and result.get("location_geocoded"):
        result.update(location_latitude=None, location_longitude=None, location_geocoded=None)
    return result


def apply_updates(session: Session, updates: Sequence[PartnerUpdate]) -> Counter[str]:
    """Create new partners, merge into existing ones by external id; counts per outcome."""
    repository = PartnerRepository(session)
    counts: Counter[str] = Counter()
    ids = [u.partner.external_id for u in updates if u.partner.external_id]
    rows = {
        row.external_id: row
        for row in session.execute(select(PartnerRow).where(PartnerRow.external_id.in_(ids))).scalars()
    }
    for update in updates:
        row = rows.get(update.partner.external_id)
        if row is None:
            repository.upsert(update.partner)
            counts["created"] += 1
            continue
        data = merged(row.data, update.partner.model_dump(mode="json"), update.paths)
        partner, _ = geocode_partner(Partner.model_validate({**data, "id": row.id}))
        if partner.model_dump(mode="json") == row.data:
            counts["unchanged"] += 1
            continue
        repository.upsert(partner)
        counts["updated"] += 1
    return counts
