"""Benchmark: how many conversions routing wins, against an Odoo-style baseline and an oracle.

A generated world on real postal geography (the shipped gazetteer), seeded:
- 1,000 partners in 9 countries at real postal-code centroids: territories (a whole country, a
  country narrowed by a 60–200 km radius, or a few two-digit postal regions), 1–4 of 6 product
  lines (most in stock), a programme tier, a monthly cap of 5–40 leads; 10 % joined recently.
- Hidden truth per partner: an acceptance rate, a win rate (both loosely tied to its tier) and how
  far it reaches: P(accept and win) for a lead ``d`` km away is ``accept × win / (1 + (d / D)²)``,
  ``D`` 40–120 km (larger for partners with a large radius). leadbridge never sees these numbers.
- History: a year at the same rate as the month measured (120,000 past leads), routed by the
  Odoo-style baseline among partners carrying the product, outcomes drawn from the truth;
  leadbridge sees only these offers and win/lose events (``compute_stats``; ``outcomes.model_from``
  for ``tune``).
- Then 10,000 new leads in one month, routed by:
  - the Odoo-style baseline (website_crm_partner_assign): partners of the lead's country in a
    ±2°/±1.5° box, widening to ±4°/±3°, ±8°/±8°, the whole country, then the nearest; drawn at
    random weighted by grade (platinum 4, gold 3, silver 2, registered 1); products, caps and
    territories unread;
  - the oracle: knows the truth; lead by lead, the partner with the highest true P(accept and win)
    among those leadbridge's hard filters allow (territory, product, capacity — the same business
    constraints), with running caps (greedy);
  - leadbridge's default policy, and the policy ``tune`` finds on the last 5,000 history leads
    (both through ``route_batch``, running caps and load).
Expected wins use the hidden truth. Prints, per strategy: expected wins, % of the oracle, mean km,
% of routed leads sent to a partner without the product, % sent beyond the partner's monthly cap,
% sent to the partners without history (exploration).
The last line is ``expected_wins_pct_of_oracle: N`` (leadbridge's default policy).

    .venv/bin/python bench/routing_quality.py [--partners 1000] [--leads 10000] [--history 120000]
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from leadbridge.core.geo import haversine_km, shipped_tables
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.matching import build_index
from leadbridge.core.matching.batch import route_batch
from leadbridge.core.model import Lead, LeadEvent, Offer, OfferStatus
from leadbridge.core.outcomes import model_from
from leadbridge.core.partner import Partner
from leadbridge.core.performance import StatsTable, compute_stats, prior_stats
from leadbridge.core.policy import Policy, default_policy, policy_hash
from leadbridge.core.tune import policy_yaml, tune

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # the first day of the month the new leads arrive in
COUNTRIES = [
    ("DE", 30),
    ("FR", 18),
    ("IT", 12),
    ("ES", 10),
    ("PL", 9),
    ("NL", 7),
    ("AT", 5),
    ("CH", 5),
    ("BE", 4),
]
PRODUCTS = ["heat_pumps", "solar_inverters", "batteries", "ventilation", "wallboxes", "boilers"]
TIERS = ["registered", "silver", "gold", "platinum"]
GRADE = {"registered": 1, "silver": 2, "gold": 3, "platinum": 4}
BOXES = [(2.0, 1.5), (4.0, 3.0), (8.0, 8.0)]  # Odoo's widening boxes: ± latitude, ± longitude


@dataclass(frozen=True)
class Truth:
    """What only the bench (and the oracle) knows about a partner."""

    accept: float
    win: float
    reach_km: float
    lat: float
    lon: float
    products: frozenset[str]
    cap: int
    country: str
    grade: int

    def p(self, km: float) -> float:
        return self.accept * self.win / (1.0 + (km / self.reach_km) ** 2)


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def make_world(count: int, rng: random.Random) -> tuple[list[Partner], dict[str, Truth], set[str]]:
    codes = {c: list(shipped_tables()[c].items()) for c, _ in COUNTRIES}
    partners, truths, new = [], {}, set()
    for n in range(count):
        country = rng.choices([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES])[0]
        code, (lat, lon, _) = rng.choice(codes[country])
        quality = rng.gauss(0, 1)
        tier = TIERS[min(3, max(0, int((quality + rng.gauss(0, 1.2)) + 1.5)))]
        products = frozenset(rng.sample(PRODUCTS, rng.randint(1, 4)))
        roll = rng.random()
        territory: dict[str, object] = {"countries": [country]}
        reach = rng.uniform(40, 120)
        if roll < 0.2:
            radius = rng.uniform(60, 200)
            territory["radii"] = [{"latitude": lat, "longitude": lon, "km": round(radius)}]
            reach = max(reach, radius * 0.6)
        elif roll < 0.3:
            near = {c[:2] for c, (la, lo, _) in codes[country] if haversine_km(lat, lon, la, lo) < 80}
            territory["postal_prefixes"] = sorted(near | {code[:2]})
        pid = f"P-{n:04d}"
        cap = rng.randint(5, 40)
        partners.append(
            Partner.model_validate(
                {
                    "id": pid,
                    "name": f"Partner {n}",
                    "territory": territory,
                    "location_latitude": lat,
                    "location_longitude": lon,
                    "product_lines": sorted(products),
                    "products_in_stock": sorted(p for p in products if rng.random() < 0.7),
                    "tier": tier,
                    "capacity": {"per_month": cap},
                }
            )
        )
        accept = sigmoid(0.9 + 0.5 * quality + rng.gauss(0, 0.6))
        win = sigmoid(-1.3 + 0.5 * quality + rng.gauss(0, 0.5))
        truths[pid] = Truth(accept, win, reach, lat, lon, products, cap, country, GRADE[tier])
        if rng.random() < 0.1:
            new.add(pid)
    return partners, truths, new


def make_leads(count: int, rng: random.Random, prefix: str) -> list[Lead]:
    codes = {c: list(shipped_tables()[c]) for c, _ in COUNTRIES}
    leads = []
    for n in range(count):
        country = rng.choices([c for c, _ in COUNTRIES], [w for _, w in COUNTRIES])[0]
        leads.append(
            Lead.model_validate(
                {
                    "id": f"{prefix}-{n:06d}",
                    "company": f"Firma {n}",
                    "address": {"postal_code": rng.choice(codes[country]), "country": country},
                    "product_interests": rng.sample(PRODUCTS, 1 if rng.random() < 0.8 else 2),
                    "consent": {"share_with_partners": True},
                }
            )
        )
    return leads


def where(lead: Lead) -> tuple[float, float]:
    a = lead.address
    lat, lon, _ = shipped_tables()[a.country or ""][a.postal_code or ""]
    return lat, lon


def odoo_pick(
    lead: Lead, truths: dict[str, Truth], by_country: dict[str, list[str]], rng: random.Random
) -> str:
    """website_crm_partner_assign's search: widening boxes in the country, then the nearest."""
    lat, lon = where(lead)
    pool = by_country.get(lead.address.country or "", [])
    found: list[str] = []
    for dlat, dlon in BOXES:
        found = [p for p in pool if abs(truths[p].lat - lat) < dlat and abs(truths[p].lon - lon) < dlon]
        if found:
            break
    if not found:
        found = pool or [min(truths, key=lambda p: haversine_km(lat, lon, truths[p].lat, truths[p].lon))]
    return rng.choices(found, [truths[p].grade for p in found])[0]


def make_history(
    count: int, truths: dict[str, Truth], new: set[str], rng: random.Random
) -> tuple[list[Lead], list[Offer], list[LeadEvent]]:
    """Past leads routed by the baseline among partners carrying the product; outcomes drawn."""
    leads = make_leads(count, rng, "H")
    by_country: dict[str, list[str]] = {}
    for pid, t in truths.items():
        if pid not in new:
            by_country.setdefault(t.country, []).append(pid)
    offers, events = [], []
    for n, lead in enumerate(leads):
        wanted, country = set(lead.product_interests), lead.address.country or ""
        carrying = {country: [p for p in by_country.get(country, []) if wanted <= truths[p].products]}
        if not carrying[country]:
            continue
        pid = odoo_pick(lead, truths, carrying, rng)
        t, (lat, lon) = truths[pid], where(lead)
        km = haversine_km(lat, lon, t.lat, t.lon)
        factor = 1.0 / (1.0 + (km / t.reach_km) ** 2)
        at = NOW - timedelta(days=365) + timedelta(days=365 * n / count)
        accepted = rng.random() < t.accept * math.sqrt(factor)
        decision = {"candidates": [{"partner_id": pid, "distance_km": km}]}
        status = OfferStatus.ACCEPTED if accepted else OfferStatus.DECLINED
        offer = Offer(
            lead_id=lead.id,
            partner_id=pid,
            status=status,
            offered_at=at,
            decided_at=at + timedelta(hours=rng.uniform(0.5, 30)),
            decision=decision,
        )
        offers.append(offer)
        if accepted:
            won = rng.random() < t.win * math.sqrt(factor)
            kind = EventKind.WIN if won else EventKind.LOSE
            events.append(
                LeadEvent(
                    lead_id=lead.id,
                    kind=kind.value,
                    to_state="won" if won else "lost",
                    actor="partner",
                    occurred_at=at + timedelta(days=20),
                    idempotency_key=f"{kind.value}:{lead.id}",
                    partner_id=pid,
                )
            )
    return leads, offers, events


@dataclass
class Result:
    name: str
    wins: float = 0.0
    routed: int = 0
    km: float = 0.0
    without_product: int = 0
    over_capacity: int = 0
    to_new: int = 0


def score(
    name: str, picks: dict[str, str | None], leads: list[Lead], truths: dict[str, Truth], new: set[str]
) -> Result:
    result, load = Result(name), Counter[str]()
    for lead in leads:
        pid = picks.get(lead.id)
        if pid is None:
            continue
        t, (lat, lon) = truths[pid], where(lead)
        km = haversine_km(lat, lon, t.lat, t.lon)
        load[pid] += 1
        result.routed += 1
        result.km += km
        result.wins += t.p(km)
        result.without_product += not set(lead.product_interests) <= t.products
        result.over_capacity += load[pid] > t.cap
        result.to_new += pid in new
    return result


def oracle(leads: list[Lead], partners: list[Partner], stats: StatsTable, truths: dict[str, Truth]) -> dict:
    """Greedy with the truth, among the partners leadbridge's hard filters allow (running caps)."""
    every = Policy.model_validate(
        {
            "version": 1,
            "distribution": {"mode": "open_pool", "pool_size": len(partners)},
            "performance": {"exploration_share": 0},
        }
    )
    index = build_index(partners, every, NOW)
    running = dict(stats)
    picks: dict[str, str | None] = {}
    for lead in leads:
        decision = route_batch([lead], index, every, running, now=NOW, seed=0).decisions[0]
        lat, lon = where(lead)
        best = max(
            decision.candidates,
            key=lambda c: truths[c.partner_id].p(
                haversine_km(lat, lon, truths[c.partner_id].lat, truths[c.partner_id].lon)
            ),
            default=None,
        )
        picks[lead.id] = best.partner_id if best else None
        if best is not None:
            current = running.get(best.partner_id) or prior_stats(best.partner_id, every.performance)
            running[best.partner_id] = current.with_assignment()
    return picks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--partners", type=int, default=1000)
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--history", type=int, default=120_000)
    parser.add_argument("--tune-leads", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    partners, truths, new = make_world(args.partners, rng)
    history, offers, events = make_history(args.history, truths, new, rng)
    leads = make_leads(args.leads, rng, "L")
    policy = default_policy()
    stats = compute_stats(offers, events, policy.performance, now=NOW)
    print(
        f"world: {len(partners)} partners ({len(new)} new) in {len(COUNTRIES)} countries, "
        f"{len(offers)} past offers, {len(events)} outcomes, {len(leads)} new leads "
        f"({time.perf_counter() - started:.1f}s)"
    )

    results = []
    by_country: dict[str, list[str]] = {}
    for pid, t in truths.items():
        by_country.setdefault(t.country, []).append(pid)
    baseline_rng = random.Random(args.seed)
    odoo = {lead.id: odoo_pick(lead, truths, by_country, baseline_rng) for lead in leads}
    results.append(score("odoo-style baseline", odoo, leads, truths, new))
    t0 = time.perf_counter()
    results.append(
        score("oracle (knows the truth)", oracle(leads, partners, stats, truths), leads, truths, new)
    )
    print(f"oracle: {time.perf_counter() - t0:.1f}s")

    index = build_index(partners, policy, NOW)
    t0 = time.perf_counter()
    default_picks = route_batch(leads, index, policy, stats, now=NOW, seed=args.seed).picks()
    print(f"leadbridge default: {len(leads) / (time.perf_counter() - t0):.0f} leads/s (route_batch)")
    results.append(score(f"leadbridge default ({policy_hash(policy)})", default_picks, leads, truths, new))

    t0 = time.perf_counter()
    model = model_from(offers, events)
    report = tune(history[-args.tune_leads :], index, policy, stats, model, now=NOW, seed=args.seed)
    tuned = report.policy
    print(
        f"tune: {report.to_dict()['evaluations']} replays of {report.leads} history leads in "
        f"{time.perf_counter() - t0:.0f}s; expected conversions {report.current:.1f} → {report.best:.1f}; "
        f"changes {report.changes}"
    )
    tuned_stats = compute_stats(offers, events, tuned.performance, now=NOW)
    tuned_picks = route_batch(
        leads, build_index(partners, tuned, NOW), tuned, tuned_stats, now=NOW, seed=args.seed
    )
    results.append(score(f"leadbridge tuned ({policy_hash(tuned)})", tuned_picks.picks(), leads, truths, new))

    best = results[1].wins
    print(f"{'strategy':34} {'expected wins':>13} {'% oracle':>9} {'routed':>7} {'mean km':>8}", end="")
    print(f" {'% no product':>12} {'% over cap':>10} {'% to new':>8}")
    for r in results:
        routed = max(1, r.routed)
        print(
            f"{r.name:34} {r.wins:13.1f} {100 * r.wins / best:9.1f} {r.routed:7d} {r.km / routed:8.1f} "
            f"{100 * r.without_product / routed:12.2f} {100 * r.over_capacity / routed:10.2f}"
            f" {100 * r.to_new / routed:8.2f}"
        )
    print("tuned policy YAML:\n" + policy_yaml(tuned))
    print(f"tuned_pct_of_oracle: {100 * results[3].wins / best:.1f}")
    print(f"expected_wins_pct_of_oracle: {100 * results[2].wins / best:.1f}")


if __name__ == "__main__":
    main()
