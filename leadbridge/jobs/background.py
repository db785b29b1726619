"""Start background work for a long-running process (the web app's lifespan): embedded or scaled.

Rule: with ``LEADBRIDGE_BROKER_URL`` set (scaled mode) the process only publishes — kicks go to
Celery workers and beat runs the schedule; without it (embedded, the default) the process runs the
schedule and the steps itself in threads. Either way the runtime's dispatcher relays to it while it
runs, and gets its previous target back when it stops.
"""

from __future__ import annotations

from collections.abc import Callable

from leadbridge.runtime import Runtime


def start_background(rt: Runtime, *, workers: int = 2) -> Callable[[], None]:
    """Start background work per the module rule; returns the function that stops it."""
    if rt.settings.broker_url:
        from leadbridge.jobs.app import CeleryDispatcher, configure

        configure(rt.settings)
        previous = rt.dispatcher.switch(CeleryDispatcher(rt.settings))

        def stop() -> None:
            rt.dispatcher.switch(previous)

        return stop
    from leadbridge.jobs.embedded import EmbeddedScheduler

    scheduler = EmbeddedScheduler(rt, workers=workers).start()
    return scheduler.stop


def background_starter(rt: Runtime) -> Callable[[object], Callable[[], None]]:
    """The web app's ``background`` hook: ``create_app(rt, background=[background_starter(rt)])``."""
    return lambda _app: start_background(rt)
