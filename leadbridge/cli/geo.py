"""``leadbridge geo``: the offline postal-code gazetteer — import admin files, look a code up, and
check how well it covers the leads and partners in the database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select

from leadbridge.cli.context import Table, console, fail, print_json
from leadbridge.cli.partners import JsonOption, open_database
from leadbridge.cli.routing import PolicyOption, policy_option
from leadbridge.core.errors import LeadbridgeError
from leadbridge.core.geo import ATTRIBUTION, load_gazetteer
from leadbridge.core.geo_check import GeoRecord, check_geo
from leadbridge.core.geo_files import aggregate_prefixes, read_places, write_places
from leadbridge.core.geocode import partner_country
from leadbridge.core.leads import lead_from_row
from leadbridge.core.partners import partner_from_row
from leadbridge.core.store.tables import LeadRow, PartnerRow

geo_app = typer.Typer(help="The offline postal-code gazetteer used for distances.", no_args_is_help=True)


@geo_app.command("import")
def geo_import_command(
    source: Annotated[Path, typer.Argument(help="gazetteer CSV or GeoNames postal dump (tab-separated)")],
    out: Annotated[Path, typer.Option("--out", help="CSV to write (list it under geo.gazetteer_files)")],
    digits: Annotated[
        int | None, typer.Option(help="average full postal codes into centroids of this many characters")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Convert an admin's postal-code file into a gazetteer CSV the policy can load."""
    try:
        places = read_places(source)
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    if digits:
        places = aggregate_prefixes(places, digits)
    written = write_places(places, out)
    countries = sorted({p.country for p in places})
    if as_json:
        print_json({"file": str(out), "places": written, "countries": countries})
        return
    console.print(f"{written} place(s) for {', '.join(countries)} written to {out}", markup=False)
    console.print(f"add it to the policy: geo: {{gazetteer_files: [{out}]}}", markup=False)


@geo_app.command("lookup")
def geo_lookup_command(
    country: Annotated[str, typer.Argument(help="ISO country code (DE)")],
    postal_code: Annotated[str, typer.Argument(help="postal code")],
    policy_path: PolicyOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show where the gazetteer places a postal code (shipped data plus the policy's files)."""
    try:
        policy = policy_option(policy_path)
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    place = load_gazetteer(tuple(policy.geo.gazetteer_files)).lookup(country.upper(), postal_code)
    if as_json:
        print_json(None if place is None else place.__dict__)
        return
    if place is None:
        raise fail(f"no gazetteer entry for {country.upper()} {postal_code}")
    console.print(
        f"{place.country} {place.prefix}: {place.latitude}, {place.longitude} {place.name}", markup=False
    )


@geo_app.command("check")
def geo_check_command(policy_path: PolicyOption = None, as_json: JsonOption = False) -> None:
    """Coverage and error of the gazetteer for the leads and partners in the database."""
    try:
        policy = policy_option(policy_path)
        gazetteer = load_gazetteer(tuple(policy.geo.gazetteer_files))
    except LeadbridgeError as error:
        raise fail(str(error)) from None
    records: list[GeoRecord] = []
    with open_database().transaction() as session:
        for row in session.execute(select(LeadRow)).scalars():
            a = lead_from_row(row).address
            records.append(
                GeoRecord(
                    "lead", row.id, a.country, a.postal_code, a.city, a.latitude, a.longitude, a.geocoded
                )
            )
        for partner_row in session.execute(select(PartnerRow)).scalars():
            p = partner_from_row(partner_row)
            records.append(
                GeoRecord(
                    "partner",
                    p.id,
                    partner_country(p),
                    p.location_postal_code,
                    p.location_city,
                    p.location_latitude,
                    p.location_longitude,
                    p.location_geocoded,
                )
            )
    coverage = check_geo(records, gazetteer)
    if as_json:
        print_json({"rows": [item.to_dict() for item in coverage], "attribution": ATTRIBUTION})
        return
    table = Table(
        "kind", "country", "records", "given", "geocoded", "placeable", "unplaced", "coverage",
        "mean km", "p95 km", "max km (worst)",
    )  # fmt: skip
    for item in coverage:
        km = item.error_km()
        sources = ", ".join(f"{k} {v}" for k, v in sorted(item.by_source.items()))
        table.add_row(
            item.kind,
            item.country,
            str(item.records),
            str(item.given),
            f"{item.geocoded}" + (f" ({sources})" if sources else ""),
            str(item.placeable),
            str(item.unplaced),
            f"{item.coverage:.1%}",
            "-" if km["mean"] is None else f"{km['mean']:.1f}",
            "-" if km["p95"] is None else f"{km['p95']:.1f}",
            "-" if km["max"] is None else f"{km['max']:.1f} ({km['worst']})",
        )
    console.print(table)
    console.print(
        "error: km between the coordinates a source gave and the gazetteer's place for the same code",
        markup=False,
    )
    console.print(ATTRIBUTION, markup=False, style="dim")


def register(app: typer.Typer) -> None:
    app.add_typer(geo_app, name="geo")
