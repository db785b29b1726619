"""A territory index over partners that cuts each lead's candidates before filtering and scoring.

Rule: the index only *pre-selects*; every pre-selected partner still goes through all filters, so
the index must return a superset of the partners the territory (and product) filter accepts:
- country → partners covering the whole country;
- country → 2- and 3-character postal keys → partners whose prefixes or ranges touch that key
  (a 1-digit prefix or a range spanning keys is entered under every key it covers; what cannot be
  placed, e.g. a 1-letter prefix, goes to a per-country list that is always checked);
- a 0.1° × 0.1° latitude/longitude grid → partners with a radius overlapping the cell;
- optionally one product line → only partners carrying it (used when the policy requires all of
  the lead's product lines, so any one of them is a safe cut).
Candidate lists are cached per (country, postal key, cut) and per (grid cell, cut).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from leadbridge.core.geo import Gazetteer
from leadbridge.core.matching.vectors import LeadCtx, PartnerVec, account_owner_map, partner_vec
from leadbridge.core.partner import Partner

KM_PER_DEGREE = 111.32
CELL = 0.1  # degrees; a cell is about 11 km north-south
MAX_RANGE_KEYS = 200


def keys_for_prefix(prefix: str) -> tuple[int, list[str]] | None:
    """(key length, keys) under which a partner with this prefix is filed; None if unplaceable."""
    if len(prefix) >= 3:
        return 3, [prefix[:3]]
    if len(prefix) == 2:
        return 2, [prefix]
    if prefix.isdigit():
        return 2, [prefix + str(n) for n in range(10)]
    return None


def keys_for_range(start: str, end: str) -> tuple[int, list[str]] | None:
    """(key length, keys) covering an inclusive postal range; None if not numeric."""
    for length in (3, 2):
        a, b = start[:length], end[:length]
        numeric = len(a) == length == len(b) and a.isdigit() and b.isdigit() and a <= b
        if numeric and (int(b) - int(a) < MAX_RANGE_KEYS or length == 2):
            return length, [str(n).zfill(length) for n in range(int(a), int(b) + 1)]
    return None


def cells_for_radius(lat: float, lon: float, km: float) -> Iterable[tuple[int, int]]:
    """Grid cells overlapping the bounding box of a circle."""
    dlat = km / KM_PER_DEGREE
    lat_lo, lat_hi = max(-90.0, lat - dlat), min(90.0, lat + dlat)
    cos = math.cos(math.radians(min(89.0, max(abs(lat_lo), abs(lat_hi)))))
    dlon = km / (KM_PER_DEGREE * cos)
    span = int(360 / CELL)
    if dlon >= 180:
        lon_cells: Iterable[int] = range(span)
    else:
        lon_cells = range(math.floor((lon - dlon) / CELL), math.floor((lon + dlon) / CELL) + 1)
    lon_list = list(lon_cells)
    for cell_lat in range(math.floor(lat_lo / CELL), math.floor(lat_hi / CELL) + 1):
        for cell_lon in lon_list:
            yield cell_lat, ((cell_lon + span // 2) % span) - span // 2


def cell_of(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / CELL), math.floor(lon / CELL)


# A bucket key's last part is a product line, or None for "any product".
Product = str | None


class PartnerIndex:
    """Partners flattened for one day, with territory buckets (see the module rules)."""

    def __init__(self, partners: Sequence[Partner], day: date, gazetteer: Gazetteer) -> None:
        self.day = day
        self.gazetteer = gazetteer
        self.partners = list(partners)
        self.vecs: list[PartnerVec] = [partner_vec(p, day) for p in self.partners]
        self.by_id = {vec.id: vec for vec in self.vecs}
        self.account_owners = account_owner_map(self.vecs)
        self._country_wide: dict[tuple[str, Product], list[PartnerVec]] = defaultdict(list)
        self._keyed: dict[tuple[str, str, Product], list[PartnerVec]] = defaultdict(list)
        self._always: dict[tuple[str, Product], list[PartnerVec]] = defaultdict(list)
        self._postal_all: dict[tuple[str, Product], list[PartnerVec]] = defaultdict(list)
        self._grid: dict[tuple[tuple[int, int], Product], list[PartnerVec]] = defaultdict(list)
        self._cache: dict[tuple[str | None, str, Product], list[PartnerVec]] = {}
        # partners with both countries and radii can be found twice; only then is deduplication needed
        self._mixed = any(vec.countries and vec.radii for vec in self.vecs)
        for vec in self.vecs:
            self._add(vec)

    def _add(self, vec: PartnerVec) -> None:
        products: list[Product] = [None, *sorted(vec.products)]
        for country in vec.countries:
            if not vec.has_postal_restriction:
                for product in products:
                    self._country_wide[(country, product)].append(vec)
                continue
            placements = [keys_for_prefix(p) for p in vec.prefixes]
            placements += [keys_for_range(a, b) for a, b in vec.ranges]
            keys = {key for found in placements if found for key in found[1]}
            for product in products:
                self._postal_all[(country, product)].append(vec)
                if any(found is None for found in placements):
                    self._always[(country, product)].append(vec)
                for key in keys:
                    self._keyed[(country, key, product)].append(vec)
        cells: set[tuple[int, int]] = set()
        for lat, lon, km in vec.radii:
            cells.update(cells_for_radius(lat, lon, km))
        for cell in cells:
            for product in products:
                self._grid[(cell, product)].append(vec)

    def _territorial(self, country: str | None, postal: str, product: Product) -> list[PartnerVec]:
        groups: list[list[PartnerVec]] = []
        if country is not None:
            groups.append(self._country_wide.get((country, product), []))
            if len(postal) < 2:
                groups.append(self._postal_all.get((country, product), []))
            else:
                groups.append(self._keyed.get((country, postal[:2], product), []))
                if len(postal) >= 3:
                    groups.append(self._keyed.get((country, postal[:3], product), []))
                groups.append(self._always.get((country, product), []))
        unique: dict[str, PartnerVec] = {}
        for group in groups:
            for vec in group:
                unique.setdefault(vec.id, vec)
        return list(unique.values())

    def candidate_lists(self, ctx: LeadCtx, product: Product = None) -> list[list[PartnerVec]]:
        """``candidates`` as the index's own cached lists (territorial, then radius partners nearby),
        without copying them; callers may cache work per list object."""
        key = (ctx.country, ctx.postal[:3], product)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._territorial(ctx.country, ctx.postal, product)
        if not self._grid or ctx.latitude is None or ctx.longitude is None:
            return [found]
        near = self._grid.get((cell_of(ctx.latitude, ctx.longitude), product))
        if not near:
            return [found]
        if not self._mixed:
            return [found, near]
        ids = {vec.id for vec in found}
        return [found, [vec for vec in near if vec.id not in ids]]

    def candidates(self, ctx: LeadCtx, product: Product = None) -> list[PartnerVec]:
        """Partners that may pass the territory filter (and carry ``product``): a superset."""
        lists = self.candidate_lists(ctx, product)
        return lists[0] if len(lists) == 1 else lists[0] + lists[1]
