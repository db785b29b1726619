"""Benchmark: map generated Salesforce Lead records with the shipped manufacturer mapping, one core.

Rates are CPU time of this process (``time.process_time``), so other work on a shared machine does
not count against them. The records look like a Salesforce pull (JSON numbers, ISO date-times with
``+0000``, multi-select text, free-text countries); 1 % are broken (bad date, unmapped picklist
value) and must come back as failures, not exceptions. Phones: most CRMs that feed leadbridge hold
them in E.164 already; ``--national-phones`` sets the share written nationally, which needs a
``phonenumbers`` parse (~50 µs each).

Two stages are timed:
- ``map``: remote record → typed canonical values through the compiled plan (every transform,
  per-record errors) — this is the mapping itself, and the last line ``map_records_per_s``;
- ``map+validate``: ``Plan.map_batch`` end to end, i.e. also building validated ``Lead`` models
  (pydantic, including e-mail validation, which alone costs ~45 µs per address).

    .venv/bin/python bench/mappings.py [--records 100000] [--national-phones 0.05] [--page 2000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leadbridge.mappings.apply import Plan, RecordError
from leadbridge.mappings.loader import default_mapping_path, load_mapping

FIRST = ["Anna", "Jonas", "Lea", "Lukas", "Marie", "Felix", "Sophie", "Paul", "Emma", "Ben"]
LAST = ["Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann"]
CITIES = [("10115", "Berlin", "Germany"), ("80331", "München", "Deutschland"), ("1010", "Wien", "AT"),
          ("8001", "Zürich", "Switzerland"), ("20095", "Hamburg", "DE")]  # fmt: skip
COUNTRY_PREFIX = {"Germany": "49", "Deutschland": "49", "DE": "49", "AT": "43", "Switzerland": "41"}
PRODUCTS = ["heat_pumps", "solar_inverters", "batteries", "wallboxes", "ventilation"]
INDUSTRIES = ["Energy", "Construction", "Manufacturing", "Retail", "Healthcare"]


def generate(count: int, national_share: float, rng: random.Random) -> list[dict[str, Any]]:
    records = []
    for n in range(count):
        postal, city, country = rng.choice(CITIES)
        number = f"{rng.randrange(30, 99)}{rng.randrange(1_000_000, 9_999_999)}"
        phone = (
            f"0{number[:2]} {number[2:]}"
            if rng.random() < national_share
            else f"+{COUNTRY_PREFIX[country]}{number}"
        )
        record: dict[str, Any] = {
            "Id": f"00Q{n:015d}",
            "FirstName": rng.choice(FIRST),
            "LastName": rng.choice(LAST),
            "Email": f"lead{n}@example{n % 97}.de",
            "Phone": phone,
            "Title": "Einkauf",
            "Company": f"{rng.choice(LAST)} GmbH",
            "Website": f"https://www.example{n % 97}.de",
            "Industry": rng.choice(INDUSTRIES),
            "NumberOfEmployees": rng.randrange(1, 5000),
            "AnnualRevenue": rng.randrange(10_000, 50_000_000),
            "Street": f"Hauptstraße {rng.randrange(1, 200)}",
            "PostalCode": postal,
            "City": city,
            "State": None,
            "Country": country,
            "Latitude": 48.1 + rng.random(),
            "Longitude": 11.5 + rng.random(),
            "LeadSource": "Web",
            "Lifecycle_Stage__c": rng.choice(["Lead", "MQL", "SQL"]),
            "HasOptedOutOfEmail": rng.random() < 0.2,
            "Consent_Share_With_Partners__c": rng.random() < 0.8,
            "Consent_Given_At__c": "2026-10-01T09:15:00.000+0000",
            "Product_Interest__c": ";".join(rng.sample(PRODUCTS, rng.randrange(1, 3))),
            "Lead_Score__c": rng.randrange(0, 100),
            "Campaign_Name__c": "Herbst 2026",
            "Preferred_Language__c": "de",
            "OwnerId": "005000000000001AAA",
            "CreatedDate": f"2026-11-{rng.randrange(1, 28):02d}T{rng.randrange(0, 24):02d}:12:13.000+0000",
            "SystemModstamp": "2026-11-22T10:00:00.000+0000",
        }
        if n % 100 == 99:  # 1 % broken records
            record["CreatedDate" if n % 200 == 199 else "Lifecycle_Stage__c"] = "31.02.2026"
        records.append(record)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--national-phones", type=float, default=0.05)
    parser.add_argument("--page", type=int, default=2000)
    args = parser.parse_args()

    started = time.process_time()
    plan = Plan(load_mapping(default_mapping_path("salesforce", "Lead", "manufacturer")))
    compile_ms = (time.process_time() - started) * 1000
    records = generate(args.records, args.national_phones, random.Random(7))

    # Pages of 2,000 records, as a Salesforce query returns them; a page's results are handed on
    # (here: counted and dropped) before the next is mapped.
    started = time.process_time()
    mapped, failed = 0, 0
    for start in range(0, len(records), args.page):
        results = plan.to_canonical_batch(records[start : start + args.page])
        bad = sum(1 for result in results if isinstance(result, RecordError))
        mapped, failed = mapped + len(results) - bad, failed + bad
    map_seconds = time.process_time() - started

    sample = records[: min(len(records), 20_000)]
    started = time.process_time()
    leads, failures = plan.map_batch(sample, "home")
    full_seconds = time.process_time() - started

    print(
        f"mapping: {Path(plan.mapping.source).name} ({len(plan.mapping.fields)} entries), "
        f"compiled in {compile_ms:.1f} ms"
    )
    print(
        f"records: {len(records)} in pages of {args.page} ({args.national_phones:.0%} national phone numbers)"
    )
    print(f"map: {mapped} mapped, {failed} failures in {map_seconds:.2f} s CPU")
    print(
        f"map+validate (Lead models, sample of {len(sample)}): {len(leads)} leads, {len(failures)} failures "
        f"in {full_seconds:.2f} s CPU = {len(sample) / full_seconds:,.0f} records/s"
    )
    print(f"map_and_validate_records_per_s: {len(sample) / full_seconds:.0f}")
    print(f"map_records_per_s: {len(records) / map_seconds:.0f}")


if __name__ == "__main__":
    main()
