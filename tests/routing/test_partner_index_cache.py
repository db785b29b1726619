"""Routing passes reuse the partner index until a partner changes (or the cache ages out)."""

from __future__ import annotations

import pytest

from leadbridge.core import partner_index_cache
from leadbridge.core.model import utcnow
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.policy import default_policy
from leadbridge.core.store.database import Database
from tests.builders import a_partner


def _load(database: Database) -> tuple[dict[str, object], object]:
    with database.transaction() as session:
        return partner_index_cache.partners_and_index(session, default_policy(), utcnow())


def test_given_no_change_then_the_index_is_reused_and_any_change_rebuilds_it(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_index_cache.clear()
    with database.transaction() as session:
        first, second = a_partner(session), a_partner(session)
    partners, index = _load(database)
    assert set(partners) == {first.id, second.id}
    assert _load(database)[1] is index  # nothing changed: the same index object
    with database.transaction() as session:  # an admin switches a partner off
        PartnerRepository(session).upsert(second.model_copy(update={"active": False}))
    partners, rebuilt = _load(database)
    assert rebuilt is not index and set(partners) == {first.id}
    with database.transaction() as session:
        third = a_partner(session)
    assert set(_load(database)[0]) == {first.id, third.id}
    monkeypatch.setattr(partner_index_cache, "TTL_S", 0.0)  # aged out: rebuilt even without a change
    assert _load(database)[1] is not _load(database)[1]
