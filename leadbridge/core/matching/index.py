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
        self._cache: dict[tuple[str, str, Product], list[PartnerVec]] = {}
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
            unplaceable = any(found is None for found in placements)
            keys = {key for found in placements if found for key in found[1]}
            # Each partner is filed once per lead key: a 3-character key under a 2-character key it
            # also has is redundant, and an "always" partner needs no key at all. So the lists a lead
            # reads (2-character, 3-character, always) never hold the same partner twice.
            keys = set() if unplaceable else {k for k in keys if not (len(k) == 3 and k[:2] in keys)}
            for product in products:
                self._postal_all[(country, product)].append(vec)
                if unplaceable:
                    self._always[(country, product)].append(vec)
                for key in keys:
                    self._keyed[(country, key, product)].append(vec)
        cells: set[tuple[int, int]] = set()
        for lat, lon, km in vec.radii:
            cells.update(cells_for_radius(lat, lon, km))
        for cell in cells:
            for product in products:
                self._grid[(cell, product)].append(vec)

    def _broad(self, country: str, postal: str, product: Product) -> list[PartnerVec]:
        """Country-wide partners plus those keyed by the postal code's first two characters (or,
        for a shorter code, every partner with a postal restriction), cached per key."""
        head = postal[:2]
        key = (country, head, product)
        found = self._cache.get(key)
        if found is None:
            if len(head) < 2:
                narrow = self._postal_all.get((country, product), [])
            else:
                narrow = self._keyed.get((country, head, product), []) + self._always.get(
                    (country, product), []
                )
            found = self._cache[key] = self._country_wide.get((country, product), []) + narrow
        return found

    def candidate_lists(self, ctx: LeadCtx, product: Product = None) -> list[list[PartnerVec]]:
        """``candidates`` as the index's own lists (2-character key, 3-character key, radius
        partners nearby) without copying them — callers may cache work per list object. No partner
        is in two of them, except a partner with both countries and radii (then deduplicated)."""
        lists: list[list[PartnerVec]] = []
        country, postal = ctx.country, ctx.postal
        if country is not None:
            lists.append(self._broad(country, postal, product))
            if len(postal) >= 3:
                lists.append(self._keyed.get((country, postal[:3], product), []))
        if self._grid and ctx.latitude is not None and ctx.longitude is not None:
            near = self._grid.get((cell_of(ctx.latitude, ctx.longitude), product), [])
            if near and self._mixed:
                ids = {vec.id for found in lists for vec in found}
                near = [vec for vec in near if vec.id not in ids]
            lists.append(near)
        return [found for found in lists if found]

    def candidates(self, ctx: LeadCtx, product: Product = None) -> list[PartnerVec]:
        """Partners that may pass the territory filter (and carry ``product``): a superset."""
        return [vec for found in self.candidate_lists(ctx, product) for vec in found]
