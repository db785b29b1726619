"""Offline geography: postal-code centroids and great-circle distance. Never an online call.

Rules:
- A lead's coordinates come from the CRM when present; otherwise from the gazetteer by the
  longest postal-code prefix known for its country (a full code beats ``803`` beats ``80``).
- The shipped gazetteer (``core/geodata/*.csv``) holds approximate centroids of the 2-digit
  postal regions of DE, AT and CH (good to some tens of kilometres, enough to rank partners by
  distance). Admins add finer data with their own CSV files (policy ``geo.gazetteer_files``),
  which override shipped prefixes: either ``country,prefix,latitude,longitude[,name]`` with a
  header, or a GeoNames postal-code dump (tab-separated, no header).
- Distance is great-circle (haversine, mean Earth radius 6,371 km).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from leadbridge.core.errors import ConfigError

EARTH_RADIUS_KM = 6371.0088


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
    """Postal codes compare without spaces and dashes, upper case (``A-1010`` stays ``A1010``)."""
    return code.replace(" ", "").replace("-", "").upper()


@dataclass(frozen=True)
class Place:
    country: str
    prefix: str
    latitude: float
    longitude: float
    name: str = ""


class Gazetteer:
    """Postal-prefix centroids by country, looked up by longest matching prefix."""

    def __init__(self, places: Iterable[Place] = ()) -> None:
        self._by_country: dict[str, dict[str, Place]] = defaultdict(dict)
        self._longest: dict[str, int] = defaultdict(int)
        self.add(places)

    def add(self, places: Iterable[Place]) -> int:
        """Add or replace places; returns how many were added."""
        count = 0
        for place in places:
            self._by_country[place.country][place.prefix] = place
            self._longest[place.country] = max(self._longest[place.country], len(place.prefix))
            count += 1
        return count

    def __len__(self) -> int:
        return sum(len(places) for places in self._by_country.values())

    def countries(self) -> list[str]:
        return sorted(self._by_country)

    def lookup(self, country: str | None, postal_code: str | None) -> Place | None:
        """The place of the longest known prefix of ``postal_code`` in ``country`` (or None)."""
        if not country or not postal_code:
            return None
        places = self._by_country.get(country)
        if not places:
            return None
        code = normalise_postal(postal_code)
        for length in range(min(len(code), self._longest[country]), 0, -1):
            place = places.get(code[:length])
            if place is not None:
                return place
        return None

    def coordinates(self, country: str | None, postal_code: str | None) -> tuple[float, float] | None:
        place = self.lookup(country, postal_code)
        return (place.latitude, place.longitude) if place else None


def _rows_from_csv(path: Path) -> Iterator[Place]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
        handle.seek(0)
        if "\t" in first:
            yield from _rows_from_geonames(handle, path)
            return
        reader = csv.DictReader(handle)
        missing = {"country", "prefix", "latitude", "longitude"} - set(reader.fieldnames or [])
        if missing:
            raise ConfigError(f"{path}: gazetteer CSV needs columns country,prefix,latitude,longitude")
        for line, row in enumerate(reader, start=2):
            try:
                yield Place(
                    country=row["country"].strip().upper(),
                    prefix=normalise_postal(row["prefix"]),
                    latitude=float(row["latitude"]),
                    longitude=float(row["longitude"]),
                    name=(row.get("name") or "").strip(),
                )
            except (TypeError, ValueError) as error:
                raise ConfigError(f"{path}:{line}: bad gazetteer row: {error}") from None


def _rows_from_geonames(handle: Iterable[str], path: Path) -> Iterator[Place]:
    # GeoNames postal dumps: country, postal code, place name, admin1..3 (6 columns), lat, lon, accuracy.
    for line, text in enumerate(handle, start=1):
        parts = text.rstrip("\n").split("\t")
        if len(parts) < 11:
            raise ConfigError(f"{path}:{line}: GeoNames rows have 12 tab-separated columns")
        try:
            yield Place(
                parts[0].upper(), normalise_postal(parts[1]), float(parts[9]), float(parts[10]), parts[2]
            )
        except ValueError as error:
            raise ConfigError(f"{path}:{line}: bad coordinates: {error}") from None


def read_places(path: Path) -> list[Place]:
    """Read an admin gazetteer file (our CSV or a GeoNames dump); errors name file and line."""
    if not path.exists():
        raise ConfigError(f"gazetteer file {path} does not exist")
    return list(_rows_from_csv(path))


def aggregate_prefixes(places: Iterable[Place], digits: int) -> list[Place]:
    """Average full postal codes into centroids of their first ``digits`` characters."""
    sums: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for place in places:
        acc = sums[(place.country, place.prefix[:digits])]
        acc[0] += place.latitude
        acc[1] += place.longitude
        acc[2] += 1
    return [
        Place(country, prefix, round(lat / n, 4), round(lon / n, 4))
        for (country, prefix), (lat, lon, n) in sorted(sums.items())
    ]


def write_places(places: Iterable[Place], path: Path) -> int:
    """Write places as a gazetteer CSV (``country,prefix,latitude,longitude,name``); returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["country", "prefix", "latitude", "longitude", "name"])
        for place in places:
            writer.writerow([place.country, place.prefix, place.latitude, place.longitude, place.name])
            count += 1
    return count


def shipped_places() -> list[Place]:
    """Every place in the shipped gazetteer files."""
    places: list[Place] = []
    folder = resources.files("leadbridge.core") / "geodata"
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".csv"):
            with resources.as_file(entry) as path:
                places.extend(_rows_from_csv(Path(path)))
    return places


@lru_cache(maxsize=16)
def load_gazetteer(extra_files: tuple[str, ...] = ()) -> Gazetteer:
    """The shipped gazetteer overlaid with the admin's files (cached per file list)."""
    gazetteer = Gazetteer(shipped_places())
    for name in extra_files:
        gazetteer.add(read_places(Path(name)))
    return gazetteer
