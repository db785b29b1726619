"""The one seam between the sync cycle and routing: ``route_pending(database) -> leads routed``.

The routing executor (``leadbridge.core.router``) matches each qualified, re-routed, refused or
returned lead and creates its offers (or hands it to direct sales / the fallback); the cycle only
needs the count. Tests inject their own router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database

Router = Callable[[Database], int]


def route_pending(database: Database, settings: Settings | None = None) -> int:
    """Route every waiting lead with the policy ``settings`` name; the number of leads routed."""
    from leadbridge.core import router

    return count(router.route_pending(database, settings=settings))


def count(result: Any) -> int:
    """Routers may return a count, a list of decisions, or a summary with ``routed``."""
    if isinstance(result, int):
        return result
    if isinstance(result, list | tuple | set):
        return len(result)
    routed = getattr(result, "routed", None)
    if routed is None and isinstance(result, dict):
        routed = result.get("routed")
    return count(routed) if routed is not None else 0
