"""The territory index pre-selects a superset of what the territory filter accepts, for odd inputs too."""

from __future__ import annotations

from typing import Any

import pytest

from leadbridge.core.geo import load_gazetteer
from leadbridge.core.matching.compiled import compile_policy
from leadbridge.core.matching.filters import territory
from leadbridge.core.matching.index import PartnerIndex, cells_for_radius, keys_for_prefix, keys_for_range
from leadbridge.core.matching.vectors import lead_ctx
from tests.matching.helpers import NOW, lead, partner, policy

TERRITORIES: list[dict[str, Any]] = [
    {"countries": ["DE"]},
    {"countries": ["DE"], "postal_prefixes": ["8"]},
    {"countries": ["DE"], "postal_prefixes": ["80"]},
    {"countries": ["DE"], "postal_prefixes": ["803", "99"]},
    {"countries": ["DE"], "postal_prefixes": ["80331"]},
    {"countries": ["DE"], "postal_ranges": [{"start": "79000", "end": "81999"}]},
    {"countries": ["DE"], "postal_ranges": [{"start": "10000", "end": "89999"}]},
    {"countries": ["GB"], "postal_prefixes": ["S"]},
    {"countries": ["GB"], "postal_prefixes": ["SW1"]},
    {"countries": ["GB"], "postal_ranges": [{"start": "SW1", "end": "SW9"}]},
    {"countries": ["NL"], "postal_prefixes": ["1012"]},
    {"radii": [{"latitude": 48.14, "longitude": 11.58, "km": 30}]},
    {"radii": [{"latitude": 69.65, "longitude": 18.96, "km": 400}]},  # far north: wide in longitude
    {"radii": [{"latitude": -16.5, "longitude": 179.9, "km": 150}]},  # across the date line
    {"countries": ["AT"], "radii": [{"latitude": 47.8, "longitude": 13.04, "km": 200}]},
]
LEADS: list[dict[str, Any]] = [
    {"postal_code": "80331", "country": "DE", "latitude": 48.137, "longitude": 11.575},
    {"postal_code": "80331", "country": "DE"},
    {"postal_code": "8", "country": "DE"},
    {"postal_code": None, "country": "DE", "latitude": 48.2, "longitude": 11.6},
    {"postal_code": "99084", "country": "DE"},
    {"postal_code": "SW1A 1AA", "country": "GB"},
    {"postal_code": "S1 2HE", "country": "GB"},
    {"postal_code": "1012 AB", "country": "NL"},
    {"postal_code": "9000", "country": "NO", "latitude": 69.65, "longitude": 25.0},
    {"postal_code": None, "country": "FJ", "latitude": -16.6, "longitude": -179.5},
    {"postal_code": "83395", "country": "DE", "latitude": 47.79, "longitude": 12.9},
]


@pytest.mark.parametrize("radius", ["narrow", "widen"])
@pytest.mark.parametrize("address", LEADS, ids=[f"{a['country']} {a['postal_code']}" for a in LEADS])
def test_given_odd_territories_when_indexed_then_every_territory_match_is_preselected(
    address: dict, radius: str
) -> None:
    partners = [partner(f"P-{n:02d}", territory=t) for n, t in enumerate(TERRITORIES)]
    index = PartnerIndex(partners, NOW.date(), load_gazetteer())
    ctx = lead_ctx(lead(address=address), index.gazetteer, now=NOW, excluded={})
    env = compile_policy(policy(filters={"territory": {"radius": radius}})).env
    accepted = {vec.id for vec in index.vecs if territory(ctx, vec, env) is None}
    preselected = {vec.id for vec in index.candidates(ctx)}
    assert accepted <= preselected
    assert accepted  # every case above is inside at least one territory


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [("803", (3, ["803"])), ("80", (2, ["80"])), ("8", (2, [f"8{n}" for n in range(10)])), ("S", None)],
)
def test_given_a_prefix_when_keyed_then_its_buckets(prefix: str, expected: tuple | None) -> None:
    assert keys_for_prefix(prefix) == expected


def test_given_ranges_when_keyed_then_three_digit_keys_or_two_digit_for_wide_ones() -> None:
    assert keys_for_range("80000", "80299") == (3, ["800", "801", "802"])
    wide = keys_for_range("10000", "89999")
    assert wide is not None and wide[0] == 2 and wide[1][0] == "10" and wide[1][-1] == "89"
    assert keys_for_range("SW1", "SW9") is None


def test_given_a_radius_when_gridded_then_cells_cover_its_bounding_box() -> None:
    cells = set(cells_for_radius(48.14, 11.58, 30))
    assert (481, 115) in cells  # its own cell
    assert (478, 115) in cells and (484, 115) in cells  # ±0.27° north-south
    assert all(476 <= lat <= 485 for lat, _ in cells)
