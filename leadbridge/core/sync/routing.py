"""The one seam between the sync cycle and routing: ``route_pending(database) -> leads routed``.

The routing executor (``leadbridge.core.router``) matches each qualified or re-routed lead and
creates its offers; the cycle only needs the count. Tests inject their own router.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from leadbridge.core.errors import ConfigError
from leadbridge.core.store.database import Database

Router = Callable[[Database], int]


def route_pending(database: Database) -> int:
    """Route every lead waiting for a partner; the number of leads routed."""
    try:
        from leadbridge.core import router  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        raise ConfigError("routing is not available in this build (leadbridge.core.router)") from None
    return count(router.route_pending(database))


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
