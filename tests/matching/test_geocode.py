"""Geocoding on intake: leads and partners without coordinates are placed, and say how."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadbridge.cli import geo
from leadbridge.cli.context import LazyRuntime
from leadbridge.core.geo import haversine_km
from leadbridge.core.intake import IntakeResult, take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import Lead
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from tests.matching.helpers import lead, partner

RUNNER = CliRunner()


def sourced(external_id: str, **address: object) -> Lead:
    return lead(external_id=external_id, source_connection="crm", address=address)


def test_given_a_lead_without_coordinates_when_taken_in_then_placed_by_postal_code_and_the_timeline_says_so(
    database: Database,
) -> None:
    with database.transaction() as session:
        result = take_in(session, sourced("x1", postal_code="1010", country="AT"))
        stored = LeadService(session).get_row(result.lead_id)
        events = LeadService(session).events(result.lead_id)
    address = stored.data["address"]
    assert haversine_km(address["latitude"], address["longitude"], 48.208, 16.37) < 2
    assert address["geocoded"] == "postal_code AT 1010"
    received = next(e for e in events if e.kind == EventKind.RECEIVE)
    assert received.payload == {"geocoded": "postal_code AT 1010"}


@pytest.mark.parametrize(
    ("address", "geocoded"),
    [
        ({"postal_code": "80999", "country": "DE"}, "postal_code DE 80999"),
        ({"postal_code": "99999", "country": "DE"}, "postal_prefix DE 9999"),
        ({"city": "Lyon", "country": "FR"}, "city FR Lyon"),
    ],
)
def test_given_codes_of_every_kind_when_taken_in_then_the_source_names_the_rule(
    database: Database, address: dict[str, str], geocoded: str
) -> None:
    with database.transaction() as session:
        result = take_in(session, sourced("x2", **address))
        assert LeadService(session).get_row(result.lead_id).data["address"]["geocoded"] == geocoded


def test_given_crm_coordinates_when_taken_in_then_kept_and_nothing_is_geocoded(database: Database) -> None:
    with database.transaction() as session:
        given = {"postal_code": "80331", "country": "DE", "latitude": 50.0, "longitude": 10.0}
        result = take_in(session, sourced("x3", **given))
        row = LeadService(session).get_row(result.lead_id)
        events = LeadService(session).events(result.lead_id)
    assert (row.data["address"]["latitude"], row.data["address"]["geocoded"]) == (50.0, None)
    assert events[0].payload == {}


def test_given_the_same_version_again_when_taken_in_then_unchanged_despite_geocoding(
    database: Database,
) -> None:
    with database.transaction() as session:
        first = take_in(session, sourced("x4", postal_code="8001", country="CH"))
        again = take_in(session, sourced("x4", postal_code="8001", country="CH"))
        newer = take_in(session, sourced("x4", postal_code="1201", country="CH"), stamp="v2")
        row = LeadService(session).get_row(first.lead_id)
    assert again.result is IntakeResult.UNCHANGED
    assert newer.result is IntakeResult.UPDATED and row.data["address"]["geocoded"] == "postal_code CH 1201"


def test_given_a_partner_with_a_postal_code_only_when_stored_then_located_and_marked(
    database: Database,
) -> None:
    with database.transaction() as session:
        repo = PartnerRepository(session)
        repo.upsert(
            partner(
                "P-geo",
                location_latitude=None,
                location_longitude=None,
                location_postal_code="20095",
                territory={"countries": ["DE"]},
            )
        )
        stored = repo.get("P-geo")
    assert stored.location_geocoded == "postal_code DE 20095"
    assert haversine_km(stored.location_latitude, stored.location_longitude, 53.55, 10.0) < 3


def test_given_leads_and_partners_when_geo_checked_then_coverage_and_error_per_country(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'leadbridge.db'}"
    (tmp_path / "leadbridge.yaml").write_text(f"database_url: {url}\n")
    database = Database(url)
    database.upgrade()
    with database.transaction() as session:
        take_in(session, sourced("a", postal_code="80331", country="DE"))
        # the CRM put this lead 100+ km from its postal code: the check must show it as the worst
        take_in(session, sourced("b", postal_code="10115", country="DE", latitude=52.53, longitude=13.38))
        take_in(session, sourced("c", postal_code="80331", country="DE", latitude=49.0, longitude=11.6))
        take_in(session, sourced("d", country="DE"))
        PartnerRepository(session).upsert(partner("P-1", location_latitude=48.14, location_longitude=11.58))
    cli = LazyRuntime(tmp_path / "leadbridge.yaml")  # what `leadbridge --config …` puts in ctx.obj
    result = RUNNER.invoke(geo.geo_app, ["check", "--json"], obj=cli)
    assert result.exit_code == 0, result.output
    rows = {(r["kind"], r["country"]): r for r in json.loads(result.stdout)["rows"]}
    leads = rows[("lead", "DE")]
    assert (leads["records"], leads["given"], leads["geocoded"], leads["unplaced"]) == (4, 2, 1, 1)
    assert leads["by_source"] == {"postal_code": 1} and leads["coverage"] == 0.75
    assert leads["error_km"]["compared"] == 2 and leads["error_km"]["max"] > 90
    assert leads["error_km"]["worst"] != "" and leads["error_km"]["mean"] > 45
    partners = rows[("partner", "DE")]
    assert (partners["records"], partners["given"], partners["error_km"]["compared"]) == (1, 1, 0)
    table = RUNNER.invoke(geo.geo_app, ["check"], obj=cli)
    assert table.exit_code == 0 and "CC BY 4.0" in table.output
