"""Expected conversions of a routing, estimated from past offers — the yardstick of ``simulate`` and
``tune``. Pure: it reads observations, never the database.

Rules:
- An observation is one answered offer: its partner, the lead's distance to it (from the stored
  decision), whether it was accepted, and — once known — whether it was won.
- A partner's acceptance rate (accepted / answered) and win rate (won / accepted with an outcome)
  are smoothed toward the pooled rates of all partners with ``STRENGTH`` pseudo-observations. The
  strength is fixed, so every policy is judged by the same yardstick whatever priors it routes with.
- Distance: observations with a distance fall in ``BANDS``; a band's factor is
  ``(observed conversions + K) / (conversions its partners' rates predict + K)``, then made
  non-increasing with distance (a farther band never converts better than a nearer one). A
  routing without a known distance gets the factor of all observations (1 when none). Between
  band middles the factor is interpolated linearly.
- Sending a lead to a partner ``km`` away is worth ``acceptance × win × factor(km)``.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import LeadEvent, Offer, OfferStatus

STRENGTH = 10.0
K = 5.0
BANDS = (25.0, 50.0, 100.0, 150.0, 200.0, 300.0)  # upper edges in km; the last band is open
MIDDLES = (12.5, 37.5, 75.0, 125.0, 175.0, 250.0, 350.0)  # where each band's factor holds exactly


@dataclass(frozen=True)
class Observation:
    partner_id: str
    km: float | None
    accepted: bool
    won: bool | None  # None: accepted, no outcome yet (or not accepted)


@dataclass
class ConversionModel:
    """Smoothed per-partner rates and distance-band factors (see the module rules)."""

    acceptance: dict[str, float] = field(default_factory=dict)
    win: dict[str, float] = field(default_factory=dict)
    pooled_acceptance: float = 0.7
    pooled_win: float = 0.2
    factors: tuple[float, ...] = (1.0,) * (len(BANDS) + 1)
    unknown_factor: float = 1.0

    def rates(self, partner_id: str) -> tuple[float, float]:
        return (
            self.acceptance.get(partner_id, self.pooled_acceptance),
            self.win.get(partner_id, self.pooled_win),
        )

    def factor(self, km: float | None) -> float:
        """The band factors joined linearly between band middles (flat before the first middle
        and after the last), so a few km more never jump a whole band."""
        if km is None:
            return self.unknown_factor
        i = bisect.bisect_right(MIDDLES, km)
        if i == 0:
            return self.factors[0]
        if i == len(MIDDLES):
            return self.factors[-1]
        left, right = MIDDLES[i - 1], MIDDLES[i]
        share = (km - left) / (right - left)
        return self.factors[i - 1] + (self.factors[i] - self.factors[i - 1]) * share

    def expected(self, partner_id: str, km: float | None) -> float:
        """Expected conversions of sending one lead to ``partner_id`` ``km`` away."""
        acceptance, win = self.rates(partner_id)
        return acceptance * win * self.factor(km)

    def describe(self) -> dict[str, object]:
        edges = [f"<{int(edge)} km" for edge in BANDS] + [f">={int(BANDS[-1])} km"]
        return {
            "pooled_acceptance": round(self.pooled_acceptance, 4),
            "pooled_win": round(self.pooled_win, 4),
            "distance_factors": {edge: round(f, 3) for edge, f in zip(edges, self.factors, strict=True)},
        }


def fit(observations: Iterable[Observation]) -> ConversionModel:
    """The model of ``observations`` (module rules)."""
    items = list(observations)
    answered: dict[str, int] = defaultdict(int)
    accepted: dict[str, int] = defaultdict(int)
    won: dict[str, int] = defaultdict(int)
    decided: dict[str, int] = defaultdict(int)
    for o in items:
        answered[o.partner_id] += 1
        accepted[o.partner_id] += o.accepted
        if o.accepted and o.won is not None:
            decided[o.partner_id] += 1
            won[o.partner_id] += o.won
    model = ConversionModel()
    if sum(answered.values()):
        model.pooled_acceptance = sum(accepted.values()) / sum(answered.values())
    if sum(decided.values()):
        model.pooled_win = sum(won.values()) / sum(decided.values())
    for pid, n in answered.items():
        model.acceptance[pid] = (accepted[pid] + model.pooled_acceptance * STRENGTH) / (n + STRENGTH)
        model.win[pid] = (won[pid] + model.pooled_win * STRENGTH) / (decided[pid] + STRENGTH)
    model.factors, model.unknown_factor = _distance_factors(items, model)
    return model


def _distance_factors(
    items: Sequence[Observation], model: ConversionModel
) -> tuple[tuple[float, ...], float]:
    observed = [0.0] * (len(BANDS) + 1)
    predicted = [0.0] * (len(BANDS) + 1)
    for o in items:
        if o.km is None or (o.accepted and o.won is None):
            continue  # no distance, or no final outcome yet
        acceptance, win = model.rates(o.partner_id)
        band = bisect.bisect_left(BANDS, o.km)
        observed[band] += 1.0 if o.accepted and o.won else 0.0
        predicted[band] += acceptance * win
    factors, floor = [], float("inf")
    for seen, expected in zip(observed, predicted, strict=True):
        floor = min(floor, (seen + K) / (expected + K))
        factors.append(floor)
    overall = (sum(observed) + K) / (sum(predicted) + K)
    return tuple(factors), overall


def observations(offers: Iterable[Offer], events: Iterable[LeadEvent]) -> list[Observation]:
    """One observation per answered offer (accepted, returned, declined or expired), its distance
    read from the decision stored with it, its outcome from the win/lose events."""
    outcome: dict[tuple[str, str], bool] = {}
    for event in events:
        if event.partner_id and event.kind in (EventKind.WIN, EventKind.LOSE):
            outcome[(event.lead_id, event.partner_id)] = event.kind == EventKind.WIN
    answered = (OfferStatus.ACCEPTED, OfferStatus.RETURNED, OfferStatus.DECLINED, OfferStatus.EXPIRED)
    found = []
    for offer in offers:
        if offer.status not in answered:
            continue
        accepted = offer.status in (OfferStatus.ACCEPTED, OfferStatus.RETURNED)
        km = _distance(offer)
        won = outcome.get((offer.lead_id, offer.partner_id)) if accepted else None
        found.append(Observation(offer.partner_id, km, accepted, won))
    return found


def _distance(offer: Offer) -> float | None:
    for candidate in (offer.decision or {}).get("candidates", []):
        if candidate.get("partner_id") == offer.partner_id:
            km = candidate.get("distance_km")
            return float(km) if km is not None else None
    return None


def expected_conversions(picks: Iterable[tuple[str, float | None]], model: ConversionModel) -> float:
    """The sum of ``model.expected`` over (partner, km) picks."""
    return sum(model.expected(pid, km) for pid, km in picks)


def model_from(offers: Iterable[Offer], events: Iterable[LeadEvent]) -> ConversionModel:
    """``fit(observations(offers, events))``."""
    return fit(observations(offers, events))
