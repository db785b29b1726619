"""Admin gazetteer files: read (our CSV or a GeoNames postal dump), aggregate, write.

Rules:
- Our CSV has a header with ``country,prefix,latitude,longitude[,name]``; ``prefix`` may be a full
  code or a prefix. A GeoNames postal dump is tab-separated with no header (12 columns).
- Errors name the file and line; nothing is half-read.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path

from leadbridge.core.errors import ConfigError
from leadbridge.core.geo import Place, postal_key


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
                    prefix=postal_key(row["country"].strip().upper(), row["prefix"]),
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
                parts[0].upper(),
                postal_key(parts[0].upper(), parts[1]),
                float(parts[9]),
                float(parts[10]),
                parts[2],
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
