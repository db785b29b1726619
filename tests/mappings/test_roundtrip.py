"""Property: for every shipped default, in → out → in is the identity on the mapped fields, and
every value map round-trips its canonical values."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.mappings.apply import Plan
from leadbridge.mappings.canonical import lookup
from leadbridge.mappings.loader import default_mapping_paths, load_mapping
from leadbridge.mappings.transforms.values import ValueMap

PLANS = {path.name: Plan(load_mapping(path)) for path in default_mapping_paths()}

_TEXT = st.from_regex(r"[A-Za-z0-9ÄÖÜäöüß][A-Za-z0-9ÄÖÜäöüß .,&'-]{0,30}", fullmatch=True)
_BY_PATH: dict[str, st.SearchStrategy[Any]] = {
    "email": st.from_regex(r"[a-z][a-z0-9.]{0,10}@[a-z]{2,10}\.(de|com|org)", fullmatch=True),
    "phone": st.sampled_from(["+49891234567", "+4312345678", "+41446681800", "+33142685300"]),
    "address.country": st.sampled_from(["DE", "AT", "CH", "FR", "NL", "PL", "GB"]),
    "language": st.sampled_from(["de", "en", "fr", "nl"]),
    "address.latitude": st.floats(-90, 90, allow_nan=False),
    "address.longitude": st.floats(-180, 180, allow_nan=False),
}
_BY_KIND: dict[str, st.SearchStrategy[Any]] = {
    "str": _TEXT,
    "any": _TEXT,
    "int": st.integers(0, 10**7),
    "float": st.floats(-1e9, 1e9, allow_nan=False),
    "decimal": st.decimals(0, 10**9, places=2, allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
    "date": st.dates(date(1990, 1, 1), date(2100, 1, 1)),
    "datetime": st.datetimes(datetime(1990, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    "list": st.lists(st.from_regex(r"[a-z][a-z_]{0,12}", fullmatch=True), max_size=4, unique=True),
}


def canonical_values(plan: Plan) -> st.SearchStrategy[dict[str, Any]]:
    strategies = {}
    for path in plan.round_trip_paths:
        field = lookup(path)
        assert field is not None
        if path in _BY_PATH:
            strategies[path] = _BY_PATH[path]
        elif field.choices:
            strategies[path] = st.sampled_from(field.choices)
        else:
            strategies[path] = _BY_KIND[field.kind]
    return st.fixed_dictionaries({path: st.none() | strategy for path, strategy in strategies.items()})


def in_out_in(plan: Plan, flat: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    key = {plan.mapping.key: "REC-1"}
    first = plan.to_canonical(plan.flat_to_remote(flat) | key)
    second = plan.to_canonical(plan.flat_to_remote(first) | key)
    return first, second


@pytest.mark.parametrize("name", sorted(PLANS))
def test_in_out_in_is_the_identity_on_mapped_fields(name: str) -> None:
    plan = PLANS[name]
    assert plan.round_trip_paths, f"{name} maps nothing both ways"

    @settings(max_examples=60, deadline=None)
    @given(canonical_values(plan))
    def check(flat: dict[str, Any]) -> None:
        # Required fields must be present for the record to map at all.
        required = {e.canonical for e in plan.mapping.fields if e.required and e.canonical}
        flat = {p: (v if v is not None or p not in required else "x") for p, v in flat.items()}
        first, second = in_out_in(plan, flat)
        for path in plan.round_trip_paths:
            assert first.get(path) == second.get(path), path

    check()


def test_lossless_fields_survive_unchanged() -> None:
    """Not only stable: a value leadbridge writes comes back as it was written."""
    plan = PLANS["salesforce_lead_manufacturer.yaml"]
    flat = {
        "first_name": "Anna",
        "last_name": "Muster",
        "email": "anna@example.org",
        "phone": "+49891234567",
        "annual_revenue": Decimal("1234.50"),
        "employees": 12,
        "address.country": "AT",
        "stage": "sql",
        "consent.marketing": False,
        "consent.given_at": datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC),
        "product_interests": ["heat_pumps", "solar"],
    }
    first, _ = in_out_in(plan, flat)
    assert {path: first.get(path) for path in flat} == flat


def _value_maps() -> list[tuple[str, str, ValueMap]]:
    found = []
    for name, plan in PLANS.items():
        for entry in plan.mapping.fields:
            for side in (entry.inbound, entry.outbound):
                for step in side.steps if side else ():
                    if isinstance(step.transform, ValueMap):
                        found.append((name, entry.canonical or "", step.transform))
    return found


@pytest.mark.parametrize(("name", "path", "value_map"), _value_maps())
def test_value_maps_round_trip(name: str, path: str, value_map: ValueMap) -> None:
    for canonical in set(value_map.args.values.values()):
        remote = value_map.outbound(canonical, {}, {})
        assert value_map.inbound(remote, {}, {}) == canonical, (name, path, canonical)
    for remote in value_map.args.values:
        canonical = value_map.inbound(remote, {}, {})
        assert value_map.inbound(value_map.outbound(canonical, {}, {}), {}, {}) == canonical
