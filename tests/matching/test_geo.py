"""Offline geography: great-circle distance and the shipped GeoNames postal-code gazetteer."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadbridge.core.errors import ConfigError
from leadbridge.core.geo import (
    ATTRIBUTION,
    Gazetteer,
    GeoSource,
    Place,
    haversine_km,
    load_gazetteer,
    parse_shipped,
    postal_key,
)
from leadbridge.core.geo_files import aggregate_prefixes, read_places


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
    ("country", "postal", "name", "lat", "lon"),
    [
        ("DE", "80331", "München", 48.135, 11.571),
        ("DE", "10115", "Berlin", 52.532, 13.385),
        ("AT", "1010", "Wien", 48.208, 16.370),
        ("AT", "8010", "Graz", 47.07, 15.44),
        ("CH", "8001", "Zürich", 47.37, 8.54),
        ("CH", "1201", "Genève", 46.21, 6.14),
        ("FR", "75001", "Paris", 48.86, 2.34),
        ("NL", "1011", "Amsterdam", 52.37, 4.90),
        ("BE", "1000", "Bruxelles", 50.85, 4.35),
        ("LU", "L-1111", "Luxembourg", 49.60, 6.12),
        ("IT", "00184", "Roma", 41.89, 12.49),
        ("ES", "28013", "Madrid", 40.42, -3.71),
        ("PL", "00-002", "Warszawa", 52.23, 21.01),
        ("CZ", "110 00", "Praha", 50.08, 14.42),
        ("DK", "8000", "Aarhus", 56.15, 10.2),
    ],
)
def test_given_a_full_postal_code_of_a_shipped_country_when_looked_up_then_its_own_centroid(
    country: str, postal: str, name: str, lat: float, lon: float
) -> None:
    place = load_gazetteer().lookup(country, postal)
    assert place is not None and place.source is GeoSource.POSTAL_CODE
    assert place.name.startswith(name)
    assert haversine_km(place.latitude, place.longitude, lat, lon) < 10  # a code spans a few km


def test_given_the_shipped_data_then_every_required_country_has_thousands_of_full_codes() -> None:
    gazetteer = load_gazetteer()
    required = {"DE", "AT", "CH", "NL", "BE", "LU", "FR", "IT", "ES", "PL", "CZ", "DK"}
    assert required <= set(gazetteer.countries())
    assert all(len(gazetteer.codes(country)) > 1000 for country in required)
    assert len(gazetteer.codes("DE")) > 8000 and all(len(code) == 5 for code in gazetteer.codes("DE"))


def test_given_an_unknown_code_when_looked_up_then_the_longest_known_prefix_and_says_so() -> None:
    gazetteer = load_gazetteer()
    place = gazetteer.lookup("DE", "99999")  # no such code; 999xx codes are in Thuringia
    assert place is not None and place.source is GeoSource.POSTAL_PREFIX and place.prefix == "9999"
    assert haversine_km(place.latitude, place.longitude, 51.0, 10.6) < 80
    dutch = gazetteer.lookup("NL", "1011 AB")  # GeoNames has the 4-digit part only
    assert dutch is not None and (dutch.source, dutch.prefix, dutch.name) == (
        GeoSource.POSTAL_PREFIX,
        "1011",
        "Amsterdam",
    )
    assert dutch.describe() == "postal_prefix NL 1011"


def test_given_no_usable_code_when_looked_up_then_the_city_and_says_so() -> None:
    gazetteer = load_gazetteer()
    munich = gazetteer.lookup("DE", None, "MÜNCHEN")
    assert munich is not None and munich.source is GeoSource.CITY
    assert haversine_km(munich.latitude, munich.longitude, 48.14, 11.58) < 10
    etienne = gazetteer.lookup("FR", "00000", "saint etienne")  # accents and hyphens do not matter
    assert etienne is not None and etienne.source is GeoSource.CITY
    assert haversine_km(etienne.latitude, etienne.longitude, 45.43, 4.39) < 10
    vienna = gazetteer.lookup("AT", None, "Wien")  # GeoNames names districts "Wien, Innere Stadt"
    assert vienna is not None and haversine_km(vienna.latitude, vienna.longitude, 48.21, 16.37) < 10


@pytest.mark.parametrize(
    ("country", "code", "key"),
    [
        ("DE", "D-80331", "80331"),
        ("AT", "A 1010", "1010"),
        ("LU", "L-4968", "4968"),
        ("NL", "1011 ab", "1011AB"),
    ],
)
def test_given_a_country_letter_prefix_when_keyed_then_dropped(country: str, code: str, key: str) -> None:
    assert postal_key(country, code) == key


def test_given_unknown_inputs_when_looked_up_then_none() -> None:
    gazetteer = load_gazetteer()
    assert gazetteer.lookup("DE", None) is None
    assert gazetteer.lookup(None, "80331") is None
    assert gazetteer.lookup("US", "10001") is None
    assert gazetteer.lookup("DE", None, "Atlantis") is None


def test_given_admin_data_when_looked_up_then_it_overrides_the_same_code_and_adds_prefixes(
    tmp_path: Path,
) -> None:
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "country,prefix,latitude,longitude,name\nDE,80331,48.0,11.0,Depot\nUS,100,40.7,-74.0,NYC\n"
    )
    gazetteer = load_gazetteer((str(extra),))
    assert gazetteer.lookup("DE", "80331").name == "Depot"  # type: ignore[union-attr]
    assert gazetteer.lookup("DE", "80333").name == "München"  # type: ignore[union-attr]
    us = gazetteer.lookup("US", "10001")
    assert us is not None and (us.source, us.prefix) == (GeoSource.POSTAL_PREFIX, "100")
    assert load_gazetteer().lookup("DE", "80331").name == "München"  # type: ignore[union-attr]


def test_given_the_shipped_file_then_it_carries_the_cc_by_attribution() -> None:
    assert "CC BY 4.0" in ATTRIBUTION and "GeoNames" in ATTRIBUTION
    tables = parse_shipped(f"# {ATTRIBUTION}\n#DE\n80331\t48.135\t11.571\tMünchen\n")
    assert tables == {"DE": {"80331": (48.135, 11.571, "München")}}


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
