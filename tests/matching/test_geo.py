"""Offline geography: great-circle distance and the postal-prefix gazetteer."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadbridge.core.errors import ConfigError
from leadbridge.core.geo import (
    Gazetteer,
    Place,
    aggregate_prefixes,
    haversine_km,
    load_gazetteer,
    read_places,
)


@pytest.mark.parametrize(
    ("a", "b", "km"),
    [
        ((52.52, 13.405), (48.137, 11.575), 504),  # Berlin – Munich
        ((48.208, 16.373), (47.376, 8.541), 593),  # Vienna – Zurich
        ((0.0, 0.0), (0.0, 180.0), 20015),  # half the equator
        ((48.0, 11.0), (48.0, 11.0), 0),
    ],
)
def test_given_two_points_when_measured_then_great_circle_km(a: tuple, b: tuple, km: int) -> None:
    assert haversine_km(*a, *b) == pytest.approx(km, abs=2)


@pytest.mark.parametrize(
    ("country", "postal", "name"),
    [
        ("DE", "80331", "München"),
        ("DE", "10115", "Berlin"),
        ("AT", "1010", "Wien"),
        ("AT", "8010", "Graz"),
        ("CH", "8001", "Zürich"),
        ("CH", "1201", "Genève"),
    ],
)
def test_given_a_shipped_postal_code_when_looked_up_then_its_region(
    country: str, postal: str, name: str
) -> None:
    place = load_gazetteer().lookup(country, postal)
    assert place is not None and place.name == name


def test_given_unknown_inputs_when_looked_up_then_none() -> None:
    gazetteer = load_gazetteer()
    assert gazetteer.lookup("DE", None) is None
    assert gazetteer.lookup(None, "80331") is None
    assert gazetteer.lookup("FR", "75001") is None
    assert {"DE", "AT", "CH"} <= set(gazetteer.countries())


def test_given_finer_admin_data_when_looked_up_then_longest_prefix_wins(tmp_path: Path) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text("country,prefix,latitude,longitude,name\nDE,803,48.13,11.57,Altstadt\n")
    gazetteer = load_gazetteer((str(extra),))
    assert gazetteer.lookup("DE", "80331").name == "Altstadt"  # type: ignore[union-attr]
    assert gazetteer.lookup("DE", "80999").name == "München"  # type: ignore[union-attr]


def test_given_a_geonames_dump_when_read_then_full_codes_aggregate_to_prefixes(tmp_path: Path) -> None:
    dump = tmp_path / "DE.txt"
    dump.write_text(
        "DE\t80331\tMünchen\tBayern\tBY\t\t\t\t\t48.1374\t11.5755\t4\n"
        "DE\t80333\tMünchen\tBayern\tBY\t\t\t\t\t48.1500\t11.5700\t4\n"
    )
    places = read_places(dump)
    assert [p.prefix for p in places] == ["80331", "80333"]
    (centroid,) = aggregate_prefixes(places, 3)
    assert (centroid.prefix, centroid.latitude) == ("803", pytest.approx(48.1437))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("country,zip,lat,lon\nDE,80,48,11\n", "needs columns"),
        ("country,prefix,latitude,longitude\nDE,80,north,11\n", ":2: bad gazetteer row"),
    ],
)
def test_given_a_bad_admin_file_when_read_then_error_names_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        read_places(path)


def test_given_a_gazetteer_when_added_then_places_replace_same_prefix() -> None:
    gazetteer = Gazetteer([Place("DE", "80", 1.0, 1.0)])
    gazetteer.add([Place("DE", "80", 2.0, 2.0)])
    assert len(gazetteer) == 1
    assert gazetteer.coordinates("DE", "80 331") == (2.0, 2.0)
