"""Consent scopes: to which partners a lead's identity may go.

Rules:
- ``share`` is one of ``any`` (every partner), ``classes`` (partners of the listed tiers, countries
  and tags — each list that is given must match), ``partners`` (the named ones, by id or external
  id) or ``none``;
- a lead without a scope has the scope its ``share_with_partners`` flag says: ``any`` or ``none``;
- the matcher offers a lead only to partners its scope allows (the ``consent`` filter), and every
  path that shows a partner the lead's identity checks the scope again (partner CRM copies, inbox,
  partner API): routing may have used an older scope;
- a scope that no longer allows a partner that holds or was offered the lead is a withdrawal
  (``withdrawn_from``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Share = Literal["any", "classes", "partners", "none"]


@dataclass(frozen=True)
class PartnerFacts:
    """What a scope reads about a partner."""

    id: str
    external_id: str | None = None
    tier: str | None = None
    country: str | None = None
    tags: frozenset[str] = field(default_factory=frozenset)


class ConsentScope(BaseModel):
    """Who may receive the lead's identity (module rules)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    share: Share = "none"
    tiers: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    partners: list[str] = Field(default_factory=list)

    @field_validator("tiers", "tags", "countries")
    @classmethod
    def _fold(cls, values: list[str]) -> list[str]:
        return [value.strip().casefold() for value in values if value.strip()]

    def allows(self, partner: PartnerFacts) -> bool:
        """Whether ``partner`` may receive the lead's identity (module rules)."""
        if self.share == "any":
            return True
        if self.share == "partners":
            return partner.id in self.partners or (partner.external_id or "") in self.partners
        if self.share == "classes":
            return (
                (not self.tiers or (partner.tier or "").casefold() in self.tiers)
                and (not self.countries or (partner.country or "").casefold() in self.countries)
                and (not self.tags or bool({t.casefold() for t in partner.tags} & set(self.tags)))
            )
        return False

    def describe(self) -> str:
        """A short text for timelines and reasons (no personal data)."""
        if self.share == "classes":
            lists = (("tier", self.tiers), ("country", self.countries), ("tag", self.tags))
            parts = [f"{name} {', '.join(values)}" for name, values in lists if values]
            return "partners of " + "; ".join(parts) if parts else "partners of any class"
        if self.share == "partners":
            return f"{len(self.partners)} named partner(s)"
        return {"any": "any partner", "none": "no partner"}[self.share]


ANY = ConsentScope(share="any")
NONE = ConsentScope(share="none")


def effective_scope(share_with_partners: bool, scope: ConsentScope | None) -> ConsentScope:
    """The scope that applies: the lead's own, or the one its flag implies."""
    if scope is not None:
        return scope
    return ANY if share_with_partners else NONE


def withdrawn_from(before: ConsentScope, after: ConsentScope, partners: Iterable[PartnerFacts]) -> list[str]:
    """The ids of ``partners`` the old scope allowed and the new one does not."""
    return sorted(p.id for p in partners if before.allows(p) and not after.allows(p))
