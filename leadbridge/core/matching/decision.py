"""The Decision: what ``match`` returned for one lead, serialisable to JSON for the offer's audit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

# What an offer stores of its decision (``Decision.audit``): the best candidates and the first
# exclusions, with the count per filter. ``leadbridge routing <lead> --explain`` recomputes it all.
AUDIT_CANDIDATES = 25
AUDIT_EXCLUDED = 50


class Channel(StrEnum):
    PARTNER = "partner"
    DIRECT_SALES = "direct_sales"
    NO_PARTNER = "no_partner"


@dataclass(slots=True)  # not frozen: frozen __init__ is measurably slower in the hot path
class Candidate:
    """A partner that passed every filter, with its score and each scorer's contribution."""

    partner_id: str
    score: float
    contributions: dict[str, float]
    performance_tier: str
    distance_km: float | None = None
    # expected conversions, explained: p_accept, p_win, reach (0..1) and reach_km
    factors: dict[str, float] | None = None


@dataclass(frozen=True, slots=True)
class Excluded:
    """A partner a hard filter excluded, with the filter's name and why."""

    partner_id: str
    filter: str
    detail: str


@dataclass
class Decision:
    """One lead's routing decision.

    ``candidates`` are ranked best first; ``chosen`` is what the distribution mode picked from them
    (one partner, the top N, the cascade order, the open pool); ``excluded`` is filled when the
    decision was made with ``explain=True`` (otherwise only ``excluded_total`` is known). Without
    it, ``candidates`` holds only the partners that could reach the picks; ``pruned`` counts those
    skipped because their best possible score could not.
    """

    lead_id: str
    policy_name: str
    policy_version: int
    mode: str
    channel: Channel
    reason: str
    decided_at: datetime
    round: int = 1
    candidates: list[Candidate] = field(default_factory=list)
    chosen: list[str] = field(default_factory=list)
    excluded: list[Excluded] = field(default_factory=list)
    excluded_total: int = 0
    pruned: int = 0
    explained: bool = False
    policy_hash: str = ""  # the policy's content hash (``policy.policy_hash``)

    @property
    def best(self) -> str | None:
        return self.chosen[0] if self.chosen else None

    def candidate(self, partner_id: str) -> Candidate | None:
        return next((c for c in self.candidates if c.partner_id == partner_id), None)

    def excluded_by_filter(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.excluded:
            counts[item.filter] = counts.get(item.filter, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (stored with each offer).

        Written out field by field: ``dataclasses.asdict`` deep-copies recursively and cost more
        than the match itself in a routing pass.
        """
        return {
            "lead_id": self.lead_id,
            "policy_name": self.policy_name,
            "policy_version": self.policy_version,
            "mode": self.mode,
            "channel": self.channel.value,
            "reason": self.reason,
            "decided_at": self.decided_at.isoformat(),
            "round": self.round,
            "candidates": [
                {
                    "partner_id": c.partner_id,
                    "score": c.score,
                    "contributions": dict(c.contributions),
                    "performance_tier": c.performance_tier,
                    "distance_km": c.distance_km,
                    "factors": c.factors,
                }
                for c in self.candidates
            ],
            "chosen": list(self.chosen),
            "excluded": [
                {"partner_id": e.partner_id, "filter": e.filter, "detail": e.detail} for e in self.excluded
            ],
            "excluded_total": self.excluded_total,
            "pruned": self.pruned,
            "explained": self.explained,
            "policy_hash": self.policy_hash,
        }

    def audit(self) -> dict[str, Any]:
        """``to_dict`` cut to what an offer keeps: the best ``AUDIT_CANDIDATES`` candidates (and
        every chosen one), the first ``AUDIT_EXCLUDED`` exclusions, and ``excluded_by_filter``.

        An explained decision lists every partner; stored whole with every offer, one lead's audit
        would weigh hundreds of KB at 10,000 partners. ``excluded_total`` keeps the full count.
        """
        data = self.to_dict()
        chosen = set(self.chosen)
        ranked = enumerate(data["candidates"])
        data["candidates"] = [c for rank, c in ranked if rank < AUDIT_CANDIDATES or c["partner_id"] in chosen]
        data["excluded"] = data["excluded"][:AUDIT_EXCLUDED]
        data["excluded_by_filter"] = self.excluded_by_filter()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Decision:
        return cls(
            lead_id=data["lead_id"],
            policy_name=data["policy_name"],
            policy_version=data["policy_version"],
            mode=data["mode"],
            channel=Channel(data["channel"]),
            reason=data["reason"],
            decided_at=datetime.fromisoformat(data["decided_at"]),
            round=data.get("round", 1),
            candidates=[Candidate(**c) for c in data.get("candidates", [])],
            chosen=list(data.get("chosen", [])),
            excluded=[Excluded(**e) for e in data.get("excluded", [])],
            excluded_total=data.get("excluded_total", 0),
            pruned=data.get("pruned", 0),
            explained=data.get("explained", False),
            policy_hash=data.get("policy_hash", ""),
        )
