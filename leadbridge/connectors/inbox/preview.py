"""The blind preview of an offer: what a partner may know before accepting.

Rule: the preview is built field by field from a whitelist — region (country and the first two
postal digits), industry, size segment, product interests, score, deadline. Nothing that names or
reaches a person or company (name, e-mail, phone, company, street, city, website, account) can get
in, because nothing is copied wholesale.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from leadbridge.core.partner import segment_for_employees
from leadbridge.core.store.tables import OfferRow


class BlindPreview(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    offer_id: str
    status: str
    mode: str
    region: str
    industry: str | None
    size: str | None
    product_interests: list[str]
    score: float | None
    offered_at: datetime
    deadline: datetime | None

    @property
    def is_pool(self) -> bool:
        """Open-pool offers are claimed rather than accepted."""
        return "pool" in self.mode


def region_of(address: Mapping[str, Any]) -> str:
    country = address.get("country") or "??"
    postal = (address.get("postal_code") or "").strip()
    return f"{country}-{postal[:2]}" if len(postal) >= 2 else country


def blind_preview(offer: OfferRow, lead: Mapping[str, Any]) -> BlindPreview:
    """The preview of ``offer`` from the lead's stored data (``LeadRow.data``, a dumped ``Lead``).

    Reading the stored data instead of re-validating a ``Lead`` keeps the inbox list fast; the
    whitelist below is the same either way.
    """
    segment = segment_for_employees(lead.get("employees"))
    return BlindPreview(
        offer_id=offer.id,
        status=offer.status,
        mode=offer.mode,
        region=region_of(lead.get("address") or {}),
        industry=lead.get("industry"),
        size=segment.value if segment else None,
        product_interests=list(lead.get("product_interests") or []),
        score=lead.get("score"),
        offered_at=offer.offered_at,
        deadline=offer.deadline,
    )
