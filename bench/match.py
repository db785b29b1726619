"""Benchmark: route generated leads against generated partners on one core (assign mode).

Rates are CPU time of this process (``time.process_time``), so other work on a shared machine
does not count against them. Times the indexed ``match`` over every lead, then a brute-force
reference that filters and scores every partner for every lead (``scan_all=True``) on a
sample, and checks both pick the same partners with the same scores; a few sampled leads are
also explained (``explain=True``) and must agree too. Prints both rates, their ratio and the
peak memory. The last lines are exactly ``match_leads_per_s``, ``bruteforce_leads_per_s``,
``speedup`` and ``same_decisions``.

    .venv/bin/python bench/match.py [--leads 100000] [--partners 10000] [--sample 400]
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leadbridge.core.geo import Place, shipped_places
from leadbridge.core.geo_files import aggregate_prefixes
from leadbridge.core.matching import build_index, match
from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner
from leadbridge.core.performance import PartnerStats, StatsTable, finish
from leadbridge.core.policy import Policy

PRODUCTS = ["heat_pumps", "solar_inverters", "batteries", "ventilation", "wallboxes", "boilers"]
INDUSTRIES = ["construction", "manufacturing", "retail", "healthcare", "public_sector", "logistics"]
LANGUAGES = {"DE": ["de"], "AT": ["de"], "CH": ["de", "fr", "it"]}
COUNTRY_SHARE = [("DE", 0.7), ("AT", 0.15), ("CH", 0.15)]
POSTAL_DIGITS = {"DE": 5, "AT": 4, "CH": 4}
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def _country(rng: random.Random) -> str:
    roll, acc = rng.random(), 0.0
    for country, share in COUNTRY_SHARE:
        acc += share
        if roll < acc:
            return country
    return "DE"


def regions() -> dict[str, list[Place]]:
    """Two-digit postal regions of DE, AT and CH (centroids of the shipped codes) by country."""
    shipped = [p for p in shipped_places() if p.country in POSTAL_DIGITS]
    places: dict[str, list[Place]] = {}
    for place in aggregate_prefixes(shipped, 2):
        places.setdefault(place.country, []).append(place)
    return places


def make_partners(count: int, places: dict[str, list[Place]], rng: random.Random) -> list[Partner]:
    """Mostly local partners: 60 % serve 1-4 three-digit postal prefixes, 25 % one two-digit
    region, 14.5 % a 25-80 km radius around their location, 0.5 % a whole country."""
    partners = []
    for n in range(count):
        country = _country(rng)
        place = rng.choice(places[country])
        lat, lon = place.latitude + rng.uniform(-0.2, 0.2), place.longitude + rng.uniform(-0.2, 0.2)
        kind = rng.random()
        territory: dict[str, object] = {"countries": [country]}
        if kind < 0.60:
            digits = {place.prefix + str(rng.randrange(10)) for _ in range(rng.randint(1, 4))}
            territory["postal_prefixes"] = sorted(digits)
        elif kind < 0.85:
            territory["postal_prefixes"] = [place.prefix]
        elif kind < 0.995:
            territory = {"radii": [{"latitude": lat, "longitude": lon, "km": rng.randint(25, 80)}]}
        products = rng.sample(PRODUCTS, rng.randint(1, 3))
        partners.append(
            Partner.model_validate(
                {
                    "id": f"P-{n:05d}",
                    "name": f"Partner {n}",
                    "territory": territory,
                    "location_latitude": lat,
                    "location_longitude": lon,
                    "product_lines": products,
                    "certifications": [
                        {"name": p, "level": rng.randint(1, 3), "expires": date(2027, 12, 31)}
                        for p in products
                        if rng.random() < 0.9
                    ],
                    "tier": rng.choice(["platinum", "gold", "silver", "registered", "registered"]),
                    "industries": rng.sample(INDUSTRIES, rng.randint(1, 3)),
                    "segments": rng.sample(["smb", "mid_market", "enterprise"], rng.randint(1, 3)),
                    "languages": LANGUAGES[country] + ["en"],
                    "capacity": {"max_open": rng.choice([None, 10, 20, 50])},
                    "availability": {"paused_until": NOW.replace(day=30) if rng.random() < 0.03 else None},
                }
            )
        )
    return partners


def make_stats(partners: list[Partner], policy: Policy, rng: random.Random) -> StatsTable:
    """Random records, as ``compute_stats`` would return them (an immutable table)."""
    stats = {}
    for partner in partners:
        offers = rng.randint(0, 60)
        accepted = rng.randint(0, offers)
        won = rng.randint(0, accepted)
        raw = PartnerStats(
            partner_id=partner.id,
            offers=offers,
            accepted=accepted,
            declined=offers - accepted,
            won=won,
            lost=rng.randint(0, accepted - won),
            median_accept_hours=rng.uniform(0.2, 30) if accepted else None,
            open_leads=rng.randint(0, 25),
        )
        stats[partner.id] = finish(raw, policy.performance)
    return StatsTable(stats)


def make_leads(count: int, places: dict[str, list[Place]], rng: random.Random) -> list[Lead]:
    leads = []
    for n in range(count):
        country = _country(rng)
        place = rng.choice(places[country])
        digits = POSTAL_DIGITS[country] - len(place.prefix)
        with_coordinates = rng.random() < 0.5
        leads.append(
            Lead.model_validate(
                {
                    "id": f"L-{n:06d}",
                    "company": f"Firma {n}",
                    "industry": rng.choice(INDUSTRIES),
                    "employees": rng.choice([5, 40, 180, 600, 2500]),
                    "annual_revenue": rng.choice([200_000, 3_000_000, 40_000_000]),
                    "address": {
                        "postal_code": place.prefix + str(rng.randrange(10**digits)).zfill(digits),
                        "country": country,
                        "latitude": place.latitude + rng.uniform(-0.1, 0.1) if with_coordinates else None,
                        "longitude": place.longitude + rng.uniform(-0.1, 0.1) if with_coordinates else None,
                    },
                    "product_interests": rng.sample(PRODUCTS, rng.choice([1, 1, 1, 2])),
                    "language": rng.choice(LANGUAGES[country]),
                    "consent": {"share_with_partners": rng.random() < 0.97},
                }
            )
        )
    return leads


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--partners", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    places = regions()
    policy = Policy.model_validate(
        {"version": 1, "filters": {"language": True}, "channel": {"direct_sales_min_revenue": 50_000_000}}
    )
    started = time.process_time()
    partners = make_partners(args.partners, places, rng)
    stats = make_stats(partners, policy, rng)
    leads = make_leads(args.leads, places, rng)
    print(f"generated {len(leads)} leads, {len(partners)} partners in {time.process_time() - started:.1f}s")

    started = time.process_time()
    index = build_index(partners, policy, NOW)
    print(f"index built in {time.process_time() - started:.2f}s")
    # The generated data lives for the whole run: keep the cyclic GC from rescanning it over and over
    # (a long-running router holds its partner index the same way).
    gc.collect()
    gc.freeze()

    picks: list[tuple[list[str], float | None]] = []
    started = time.process_time()
    for n, lead in enumerate(leads):
        decision = match(lead, index, policy, stats, now=NOW, rng=random.Random(n))
        picks.append((decision.chosen, decision.candidates[0].score if decision.candidates else None))
    fast_seconds = time.process_time() - started
    fast_rate = len(leads) / fast_seconds
    routed = sum(1 for chosen, _ in picks if chosen)
    print(f"indexed: {len(leads)} leads in {fast_seconds:.2f}s, {routed} routed to a partner")

    sample = random.Random(args.seed + 1).sample(range(len(leads)), min(args.sample, len(leads)))
    same = True
    started = time.process_time()
    for n in sample:
        reference = match(leads[n], index, policy, stats, now=NOW, rng=random.Random(n), scan_all=True)
        best = reference.candidates[0].score if reference.candidates else None
        same = same and (reference.chosen, best) == picks[n]
    brute_seconds = time.process_time() - started
    brute_rate = len(sample) / brute_seconds
    for n in sample[:20]:
        explained = match(leads[n], index, policy, stats, now=NOW, rng=random.Random(n), explain=True)
        same = same and explained.chosen == picks[n][0]
        same = same and len(explained.excluded) + len(explained.candidates) == len(partners)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # CPU time still suffers when other processes share the cores (caches, SMT): show the load
    print(f"load_average_1min: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cpu(s)")
    print(f"bruteforce: {len(sample)} leads in {brute_seconds:.2f}s")
    print(f"peak_memory_mb: {peak_mb:.0f}")
    print(f"match_leads_per_s: {fast_rate:.0f}")
    print(f"bruteforce_leads_per_s: {brute_rate:.1f}")
    print(f"speedup: {fast_rate / brute_rate:.1f}")
    print(f"same_decisions: {'true' if same else 'false'}")


if __name__ == "__main__":
    main()
