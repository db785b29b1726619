"""Partner stats carried from one routing pass to the next in one process, when allowed.

Aggregating every partner's stats (``stats_query.load_stats``) reads the whole offer and outcome
history: about 5 s at 400,000 leads on a loaded 2-core machine, more than the rest of a pass of
1,000 leads. Rules:
- ``max_age`` 0 (the default everywhere): no cache, every pass aggregates afresh;
- with ``max_age`` > 0 a pass starts from the stats the previous pass of this process *ended* with
  (its own offers already counted, as ``route_batch`` counts them), while the aggregation they grew
  from is younger than ``max_age`` seconds and was made for the same database, performance
  settings and UTC day (the daily, weekly and monthly counts start over at midnight);
- what reaches the ranking up to ``max_age`` late: partners' answers (accepts, declines, outcomes,
  returns), expiries and offers made elsewhere (another process, a manual assignment). Answers and
  expiries only lower a partner's counted load, so caps stay safe; an offer made elsewhere may be
  missed by one pass's cap check for that long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from leadbridge.core.performance import PartnerStats
from leadbridge.core.policy import Performance


@dataclass(frozen=True)
class _Entry:
    config: Performance
    day: date
    aggregated_at: float  # time.monotonic() of the aggregation the stats grew from
    stats: Mapping[str, PartnerStats]


_entries: dict[str, _Entry] = {}
_lock = threading.Lock()


def cached(
    database: str, config: Performance, day: date, max_age: float
) -> Mapping[str, PartnerStats] | None:
    """The stats the last pass on ``database`` ended with, if still usable (module rules)."""
    if max_age <= 0:
        return None
    with _lock:
        entry = _entries.get(database)
    if entry is None or entry.config != config or entry.day != day:
        return None
    return entry.stats if time.monotonic() - entry.aggregated_at < max_age else None


def aggregated_at(database: str) -> float:
    """When the kept stats of ``database`` were aggregated (``time.monotonic()``; 0 when none)."""
    with _lock:
        entry = _entries.get(database)
    return entry.aggregated_at if entry is not None else 0.0


def keep(
    database: str,
    config: Performance,
    day: date,
    stats: Mapping[str, PartnerStats],
    *,
    aggregated_at: float,
) -> None:
    """Remember the stats a pass ended with; ``aggregated_at``: when their aggregation was read."""
    with _lock:
        _entries[database] = _Entry(config, day, aggregated_at, stats)


def clear() -> None:
    """Forget every kept table."""
    with _lock:
        _entries.clear()
