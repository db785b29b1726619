"""Builders for matching tests: partners and leads near Munich, a fixed clock, seeded rngs."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime
from typing import Any

from leadbridge.core.model import Lead
from leadbridge.core.partner import Partner
from leadbridge.core.policy import Policy

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # a Monday
_ids = itertools.count(1)


def partner(pid: str | None = None, **overrides: Any) -> Partner:
    data: dict[str, Any] = {
        "id": pid or f"P-{next(_ids):04d}",
        "name": "Partner",
        "territory": {"countries": ["DE"]},
        "location_latitude": 48.14,
        "location_longitude": 11.58,
        "product_lines": ["heat_pumps"],
        "certifications": [{"name": "heat_pumps", "level": 2}],
        "tier": "gold",
        "languages": ["de", "en"],
    }
    data.update(overrides)
    return Partner.model_validate(data)


def lead(**overrides: Any) -> Lead:
    data: dict[str, Any] = {
        "id": f"L-{next(_ids):05d}",
        "company": "Muster GmbH",
        "first_name": "Anna",
        "last_name": "Muster",
        "email": "anna@muster.example",
        "address": {"postal_code": "80331", "country": "DE", "latitude": 48.137, "longitude": 11.575},
        "product_interests": ["heat_pumps"],
        "industry": "construction",
        "employees": 40,
        "language": "de",
        "consent": {"share_with_partners": True},
    }
    data.update(overrides)
    return Lead.model_validate(data)


def policy(**overrides: Any) -> Policy:
    return Policy.model_validate({"version": 1, **overrides})


def rng(seed: int = 1) -> random.Random:
    return random.Random(seed)
