"""Partner stats carried between routing passes (``core/stats_cache.py``): only when allowed, and
then equal to a fresh aggregation for the offers the passes made themselves."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from leadbridge.core import router, stats_cache
from leadbridge.core.intake import take_in
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.database import Database
from tests.builders import a_lead
from tests.routing.test_router import NOW, policy, setup


@pytest.fixture(autouse=True)
def aggregations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[datetime]]:
    """The times the router aggregated stats (the real aggregation runs every time)."""
    stats_cache.clear()
    calls: list[datetime] = []

    def counted(session: Any, config: Any, *, now: datetime) -> Any:
        calls.append(now)
        return load_stats(session, config, now=now)

    monkeypatch.setattr(router, "load_stats", counted)
    yield calls
    stats_cache.clear()


def _new_lead(database: Database) -> str:
    with database.transaction() as session:
        lead = a_lead()
        take_in(session, lead)
    return lead.id


def _route(database: Database, at: datetime, max_age: float) -> router.RouteSummary:
    return router.route_pending(
        database, policy=policy(), clock=lambda: at, rng=random.Random(1), stats_max_age=max_age
    )


def test_by_default_every_pass_aggregates_afresh(database: Database, aggregations: list[datetime]) -> None:
    setup(database)
    assert _route(database, NOW, 0).offers == 1
    _new_lead(database)
    assert _route(database, NOW, 0).offers == 1
    assert len(aggregations) == 2


def test_when_allowed_the_next_pass_starts_from_the_last_passes_stats_with_its_offers_counted(
    database: Database, aggregations: list[datetime]
) -> None:
    setup(database)
    assert _route(database, NOW, 60).offers == 1
    _new_lead(database)
    assert _route(database, NOW + timedelta(minutes=1), 60).offers == 1
    assert len(aggregations) == 1  # the second pass read no history
    with database.transaction() as session:
        fresh = load_stats(session, policy().performance, now=NOW)
        kept = stats_cache.cached(
            database.engine.url.render_as_string(hide_password=True), policy().performance, NOW.date(), 60
        )
    assert kept is not None
    for partner_id, stats in fresh.items():  # both passes' offers, as a fresh aggregation counts them
        assert (kept[partner_id].today, kept[partner_id].pending) == (stats.today, stats.pending)
    assert sum(s.today for s in kept.values()) == 2


def test_a_new_day_or_an_old_aggregation_is_read_again(
    database: Database, aggregations: list[datetime], monkeypatch: pytest.MonkeyPatch
) -> None:
    setup(database)
    _route(database, NOW, 60)
    _new_lead(database)
    _route(database, NOW + timedelta(days=1), 60)  # daily counts start over
    assert len(aggregations) == 2
    _new_lead(database)
    _route(database, NOW + timedelta(days=1), 0.000001)  # older than allowed
    assert len(aggregations) == 3
