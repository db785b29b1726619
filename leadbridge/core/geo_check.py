"""``leadbridge geo check``: how well the gazetteer covers the leads and partners in the database.

Rules, per kind (lead, partner) and country:
- ``records``: how many; ``given``: with coordinates from their source; ``geocoded``: placed by
  leadbridge on intake (by postal code, prefix or city: ``by_source``); ``placeable``: without
  coordinates but the gazetteer can place them now (e.g. data added since intake);
  ``unplaced``: no coordinates and nothing to place them by — distance is unknown for these;
- ``coverage``: the share with a location (given, geocoded or placeable);
- error: for records with given coordinates that the gazetteer can also place, the great-circle
  distance between the two, in km (mean, 95th percentile, worst, and the worst record's id):
  how far the shipped data is from what the CRM says.
Pure: it reads plain records and a gazetteer.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from leadbridge.core.geo import Gazetteer, haversine_km


@dataclass(frozen=True)
class GeoRecord:
    """A lead's address or a partner's location, as ``geo check`` reads it."""

    kind: str
    id: str
    country: str | None
    postal_code: str | None
    city: str | None
    latitude: float | None
    longitude: float | None
    geocoded: str | None


@dataclass
class CoverageRow:
    """The figures for one kind and country (see the module rules)."""

    kind: str
    country: str
    records: int = 0
    given: int = 0
    geocoded: int = 0
    placeable: int = 0
    unplaced: int = 0
    by_source: Counter[str] = field(default_factory=Counter)
    errors: list[tuple[float, str]] = field(default_factory=list)

    @property
    def coverage(self) -> float:
        return (self.given + self.geocoded + self.placeable) / self.records if self.records else 0.0

    def error_km(self) -> dict[str, Any]:
        """Mean, 95th percentile and worst distance (km) with the worst record's id."""
        if not self.errors:
            return {"compared": 0, "mean": None, "p95": None, "max": None, "worst": None}
        ordered = sorted(self.errors)
        p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)][0]
        return {
            "compared": len(ordered),
            "mean": round(sum(km for km, _ in ordered) / len(ordered), 1),
            "p95": round(p95, 1),
            "max": round(ordered[-1][0], 1),
            "worst": ordered[-1][1],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "country": self.country,
            "records": self.records,
            "given": self.given,
            "geocoded": self.geocoded,
            "placeable": self.placeable,
            "unplaced": self.unplaced,
            "by_source": dict(sorted(self.by_source.items())),
            "coverage": round(self.coverage, 4),
            "error_km": self.error_km(),
        }


def check_geo(records: Iterable[GeoRecord], gazetteer: Gazetteer) -> list[CoverageRow]:
    """Coverage and error rows, by kind then country (``-`` for records without a country)."""
    rows: dict[tuple[str, str], CoverageRow] = {}
    for record in records:
        country = record.country or "-"
        row = rows.get((record.kind, country))
        if row is None:
            row = rows[(record.kind, country)] = CoverageRow(record.kind, country)
        row.records += 1
        place = gazetteer.lookup(record.country, record.postal_code, record.city)
        lat, lon = record.latitude, record.longitude
        if lat is not None and lon is not None and record.geocoded:
            row.geocoded += 1
            row.by_source[record.geocoded.split(" ", 1)[0]] += 1
        elif lat is not None and lon is not None:
            row.given += 1
            if place is not None:
                row.errors.append((haversine_km(lat, lon, place.latitude, place.longitude), record.id))
        elif place is not None:
            row.placeable += 1
            row.by_source[place.source.value] += 1
        else:
            row.unplaced += 1
    return [rows[key] for key in sorted(rows)]
