"""Start background work for a long-running process (the web app's lifespan): embedded or scaled.

Rule: with ``LEADBRIDGE_BROKER_URL`` set (scaled mode) the process only publishes — kicks go to
Celery workers and beat runs the schedule; without it (embedded, the default) the process runs the
schedule and the steps itself in threads.
"""

from __future__ import annotations

from collections.abc import Callable

from leadbridge.core.settings import Settings
from leadbridge.jobs import dispatch, kicks


def start_background(settings: Settings, *, workers: int = 2) -> Callable[[], None]:
    """Start background work per the module rule; returns the function that stops it."""
    kicks.install()
    if settings.broker_url:
        from leadbridge.jobs.app import CeleryDispatcher, configure

        configure(settings)
        previous = dispatch.install(CeleryDispatcher(settings))

        def stop() -> None:
            dispatch.install(previous)

        return stop
    from leadbridge.jobs.embedded import EmbeddedScheduler

    scheduler = EmbeddedScheduler(settings, workers=workers).start()
    return scheduler.stop


def background_starter(settings: Settings) -> Callable[[object], Callable[[], None]]:
    """The web app's ``background`` hook: ``create_app(settings, background=[background_starter(s)])``."""
    return lambda _app: start_background(settings)
