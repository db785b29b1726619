"""Offline geography: postal-code centroids and great-circle distance. Never an online call.

Rules:
- A lead's coordinates come from the CRM when present; otherwise from the gazetteer
  (``Gazetteer.lookup``), which says how it placed the code (``Place.source``):
  1. ``postal_code``: the exact code is known;
  2. ``postal_prefix``: the longest known prefix of the code — an admin's prefix entry, or the
     centroid of every shipped code starting with it (``80999`` unknown → ``8099`` → ``809`` …);
  3. ``city``: the code is missing or unknown down to two characters, and the city names a
     place of that country (compared case- and accent-insensitively); a one-character prefix
     (a tenth of a country) comes only after the city;
  otherwise nothing (distance then counts as unknown).
- The shipped gazetteer (``core/geodata/postal_codes.tsv.gz``) holds every postal code of AT, BE,
  CH, CZ, DE, DK, ES, FR, IT, LU, NL and PL from the GeoNames export (CC BY 4.0, see
  ``ATTRIBUTION``); a code's centroid is the mean of its places. ``scripts/build_gazetteer.py``
  rebuilds it. It is read once, lazily, into a dict per country.
- Admins add or correct entries with their own files (policy ``geo.gazetteer_files``, see
  ``geo_files.py``); an entry for the same key replaces the shipped one.
- Codes compare without spaces and dashes, upper case, without a country-letter prefix
  (``D-80331``, ``A-1010``, ``L-4968``: see ``postal_key``).
- Distance is great-circle (haversine, mean Earth radius 6,371 km).
"""

from __future__ import annotations

import gzip
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from pathlib import Path

EARTH_RADIUS_KM = 6371.0088
SHIPPED_FILE = "postal_codes.tsv.gz"
ATTRIBUTION = (
    "Postal-code centroids: GeoNames postal code export (https://download.geonames.org/export/zip/), "
    "© GeoNames (https://www.geonames.org/), licensed under CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/); centroid = mean of each code's places."
)
# Country-letter prefixes written before postal codes (``D-80331``); dropped before lookup.
LETTER_PREFIXES = {
    "AT": ("A", "AT"),
    "BE": ("B", "BE"),
    "CH": ("CH",),
    "CZ": ("CZ",),
    "DE": ("D", "DE"),
    "DK": ("DK",),
    "ES": ("E", "ES"),
    "FR": ("F", "FR"),
    "IT": ("I", "IT"),
    "LU": ("L", "LU"),
    "PL": ("PL",),
}


def haversine_km(
    lat1: float,
    lon1: float,
    lat2: float,
    lon2: float,
    _rad: float = math.pi / 180,
    _sin: Callable[[float], float] = math.sin,
    _cos: Callable[[float], float] = math.cos,
    _asin: Callable[[float], float] = math.asin,
) -> float:
    """Great-circle distance in km between two points given in degrees (haversine formula)."""
    # math functions are bound as defaults: this runs for every scored partner of every lead
    p1, p2 = lat1 * _rad, lat2 * _rad
    h = _sin((p2 - p1) / 2) ** 2 + _cos(p1) * _cos(p2) * _sin((lon2 - lon1) * _rad / 2) ** 2
    return 2 * EARTH_RADIUS_KM * _asin(h**0.5 if h < 1.0 else 1.0)


def normalise_postal(code: str) -> str:
    """Postal codes compare without spaces and dashes, upper case (``A-1010`` → ``A1010``)."""
    return code.replace(" ", "").replace("-", "").upper()


def postal_key(country: str | None, code: str | None) -> str:
    """The code as the gazetteer keys it: normalised, a country-letter prefix dropped
    (``D-80331`` → ``80331``; only before digits, so Dutch ``1011 AB`` stays ``1011AB``)."""
    if not code:
        return ""
    key = normalise_postal(code)
    for letters in LETTER_PREFIXES.get(country or "", ()):
        rest = key[len(letters) :]
        if key.startswith(letters) and rest.isdigit():
            return rest
    return key


def city_key(name: str) -> str:
    """Cities compare case- and accent-insensitively, hyphens as spaces (``Saint-Étienne``)."""
    folded = unicodedata.normalize("NFKD", name.casefold().replace("-", " "))
    return " ".join("".join(ch for ch in folded if not unicodedata.combining(ch)).split())


class GeoSource(StrEnum):
    """Where a location came from (recorded with geocoded leads and partners)."""

    CRM = "crm"
    POSTAL_CODE = "postal_code"
    POSTAL_PREFIX = "postal_prefix"
    CITY = "city"


@dataclass(frozen=True)
class Place:
    """A gazetteer answer: ``prefix`` is the key that matched (a code or a prefix; the city for
    ``source`` city)."""

    country: str
    prefix: str
    latitude: float
    longitude: float
    name: str = ""
    source: GeoSource = GeoSource.POSTAL_CODE

    def describe(self) -> str:
        """How the place was found, for timelines: ``postal_code DE 80331``."""
        return f"{self.source.value} {self.country} {self.prefix}"


Entry = tuple[float, float, str]  # latitude, longitude, place names joined by "|"
Table = dict[str, Entry]


class Gazetteer:
    """Postal-code entries per country (see the module rules for how a code is looked up)."""

    def __init__(self, places: Iterable[Place] = (), *, base: Mapping[str, Table] | None = None) -> None:
        # ``base`` tables are shared, never changed: a country's table is copied on its first add
        self._tables: dict[str, Table] = dict(base or {})
        self._own: set[str] = set()
        self._longest = {country: max(map(len, table), default=0) for country, table in self._tables.items()}
        self._derived: dict[str, dict[str, tuple[float, float]]] = {}
        self._cities: dict[str, dict[str, Place]] = {}
        self.add(places)

    def add(self, places: Iterable[Place]) -> int:
        """Add or replace entries; returns how many were added."""
        count = 0
        for place in places:
            country = place.country
            if country not in self._own:
                self._tables[country] = dict(self._tables.get(country, {}))
                self._own.add(country)
            self._tables[country][place.prefix] = (place.latitude, place.longitude, place.name)
            self._longest[country] = max(self._longest.get(country, 0), len(place.prefix))
            self._derived.pop(country, None)
            self._cities.pop(country, None)
            count += 1
        return count

    def __len__(self) -> int:
        return sum(len(table) for table in self._tables.values())

    def countries(self) -> list[str]:
        return sorted(self._tables)

    def codes(self, country: str) -> Mapping[str, Entry]:
        """Every entry of ``country`` (read only)."""
        return self._tables.get(country, {})

    def lookup(self, country: str | None, postal_code: str | None, city: str | None = None) -> Place | None:
        """Where ``postal_code`` (else ``city``) lies in ``country``, or None (module rules)."""
        if not country:
            return None
        table = self._tables.get(country)
        if table is None:
            return None
        key = postal_key(country, postal_code)
        hit = table.get(key) if key else None
        if hit is not None:
            return Place(country, key, hit[0], hit[1], hit[2].partition("|")[0])
        # a one-character prefix (a tenth of the country) is the last resort, after the city
        coarse = None
        for length in range(min(len(key) - 1, self._longest.get(country, 0)), 0, -1):
            place = self._prefix(country, table, key[:length])
            if place is not None and length > 1:
                return place
            coarse = coarse or place
        by_city = self._city_index(country).get(city_key(city)) if city else None
        return by_city or coarse

    def _prefix(self, country: str, table: Table, head: str) -> Place | None:
        hit = table.get(head)
        if hit is not None:
            return Place(country, head, hit[0], hit[1], hit[2].partition("|")[0], GeoSource.POSTAL_PREFIX)
        centroid = self._prefix_centroids(country).get(head)
        if centroid is None:
            return None
        return Place(country, head, round(centroid[0], 4), round(centroid[1], 4), "", GeoSource.POSTAL_PREFIX)

    def coordinates(
        self, country: str | None, postal_code: str | None, city: str | None = None
    ) -> tuple[float, float] | None:
        """``lookup``'s latitude and longitude, or None."""
        place = self.lookup(country, postal_code, city)
        return (place.latitude, place.longitude) if place else None

    def _prefix_centroids(self, country: str) -> dict[str, tuple[float, float]]:
        """Prefix → mean of the centroids of the codes starting with it (built on first need)."""
        found = self._derived.get(country)
        if found is None:
            sums: dict[str, list[float]] = {}
            for code, (lat, lon, _) in self._tables[country].items():
                for length in range(1, len(code)):
                    acc = sums.setdefault(code[:length], [0.0, 0.0, 0.0])
                    acc[0] += lat
                    acc[1] += lon
                    acc[2] += 1
            found = self._derived[country] = {k: (a / n, b / n) for k, (a, b, n) in sums.items()}
        return found

    def _city_index(self, country: str) -> dict[str, Place]:
        """City key → mean of the centroids of the codes naming it (built on first need)."""
        found = self._cities.get(country)
        if found is None:
            sums: dict[str, list[float]] = {}
            names: dict[str, str] = {}
            for lat, lon, joined in self._tables[country].values():
                for name in filter(None, joined.split("|")):
                    # "Wien, Innere Stadt" is a place of Wien too
                    for key in {city_key(name), city_key(name.partition(",")[0])}:
                        acc = sums.setdefault(key, [0.0, 0.0, 0.0])
                        acc[0] += lat
                        acc[1] += lon
                        acc[2] += 1
                        names.setdefault(
                            key,
                            name.partition(",")[0]
                            if "," in name and key == city_key(name.partition(",")[0])
                            else name,
                        )
            found = self._cities[country] = {
                key: Place(country, names[key], round(a / n, 4), round(b / n, 4), names[key], GeoSource.CITY)
                for key, (a, b, n) in sums.items()
            }
        return found


def parse_shipped(text: str) -> dict[str, Table]:
    """Parse the shipped file: ``#CC`` starts a country; rows are ``code lat lon names``."""
    tables: dict[str, Table] = {}
    table: Table = {}
    for line in text.splitlines():
        if line.startswith("#"):
            if len(line) == 3:  # "#DE"; longer comment lines are the attribution
                table = tables.setdefault(line[1:], {})
            continue
        code, lat, lon, names = line.split("\t")
        table[code] = (float(lat), float(lon), names)
    return tables


@lru_cache(maxsize=1)
def shipped_tables() -> dict[str, Table]:
    """The shipped postal codes by country, read once (about 0.2 s, 86,000 codes)."""
    data = (resources.files("leadbridge.core") / "geodata" / SHIPPED_FILE).read_bytes()
    return parse_shipped(gzip.decompress(data).decode("utf-8"))


def shipped_places() -> list[Place]:
    """Every shipped postal code as a place."""
    return [
        Place(country, code, lat, lon, names.partition("|")[0])
        for country, table in sorted(shipped_tables().items())
        for code, (lat, lon, names) in table.items()
    ]


@lru_cache(maxsize=16)
def load_gazetteer(extra_files: tuple[str, ...] = ()) -> Gazetteer:
    """The shipped gazetteer overlaid with the admin's files (cached per file list)."""
    from leadbridge.core.geo_files import read_places  # the file formats build on this module

    gazetteer = Gazetteer(base=shipped_tables())
    for name in extra_files:
        gazetteer.add(read_places(Path(name)))
    return gazetteer
