"""The web app factory: partner inbox (/inbox), cockpit (/cockpit), REST API (/api/v1), and the
operations endpoints (/healthz, /readyz, /metrics from ``leadbridge.ops``).

``create_app(rt)`` builds one FastAPI app around one runtime (``leadbridge.runtime``): its
database (with the write-back projector and kicks attached), mailer and policy; routes reach it as
``request.app.state.runtime``. The app wires nothing itself. Background work (the embedded scheduler,
the mail loop) plugs in through ``background``: callables started by the lifespan and whose
returned stop-callables run when it stops — the web app itself knows nothing about jobs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from leadbridge import __version__
from leadbridge.core.store.db import is_sqlite
from leadbridge.runtime import Runtime
from leadbridge.web.api import router as api_router
from leadbridge.web.auth import router as auth_router
from leadbridge.web.cockpit import router as cockpit_router
from leadbridge.web.costs import ROUTERS as cost_routers
from leadbridge.web.docs import add_api_docs
from leadbridge.web.errors import add_error_handlers
from leadbridge.web.health import ops_router
from leadbridge.web.inbox import router as inbox_router
from leadbridge.web.inbox_settings import ROUTERS as inbox_settings_routers
from leadbridge.web.inbox_team import router as inbox_team_router
from leadbridge.web.limits import ApiKeyGate, BodyLimitMiddleware
from leadbridge.web.partner_pages import router as partner_pages_router
from leadbridge.web.policy_pages import ROUTERS as policy_routers
from leadbridge.web.pool_api import router as pool_api_router
from leadbridge.web.pool_pages import router as pool_pages_router
from leadbridge.web.privacy import ROUTERS as privacy_routers
from leadbridge.web.reports import ROUTERS as report_routers
from leadbridge.web.salesforce_outbound import router as salesforce_outbound_router
from leadbridge.web.security import SecurityHeadersMiddleware
from leadbridge.web.session_cache import PartnerSessionCache
from leadbridge.web.static_files import CachedStatic
from leadbridge.web.webhooks import router as webhook_router

SQLITE_REQUEST_THREADS = 2

# A background starter gets the app and returns a callable that stops what it started.
BackgroundStarter = Callable[[FastAPI], Callable[[], None]]


def _warm_routes(app: FastAPI) -> None:
    """Build every included router's effective routes now. FastAPI builds them lazily on the first
    request that reaches each router (about 1 s of CPU for this app, measured), which a freshly
    started server process would otherwise spend while its first partners wait."""
    pending: list[object] = list(app.router.routes)
    while pending:
        build = getattr(pending.pop(), "effective_candidates", None)  # absent in older FastAPI
        if callable(build):
            pending.extend(build())


def create_app(rt: Runtime, *, background: Sequence[BackgroundStarter] = ()) -> FastAPI:
    """Build the app on ``rt``; ``background`` starters run for the app's lifetime (embedded scheduler).

    An unusable ``secret_key`` (missing, public or short) is a ``ConfigError`` here, before anything
    is served: every CSRF token and one-tap link depends on it."""
    settings = rt.settings
    settings.signing_key()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if is_sqlite(app.state.database.url):
            # SQLite admits one writer and every transaction begins IMMEDIATE: more request threads
            # than this only queue in SQLite's busy handler, which sleeps in steps of up to 100 ms.
            anyio.to_thread.current_default_thread_limiter().total_tokens = SQLITE_REQUEST_THREADS
        _warm_routes(app)
        stops = [start(app) for start in background]
        try:
            yield
        finally:
            for stop in reversed(stops):
                stop()

    app = FastAPI(
        title="leadbridge",
        version=__version__,
        description="Routes qualified leads to channel partners. Partner systems use partner API keys; "
        "admin tools use admin keys (`Authorization: Bearer lbk_…`).",
        lifespan=lifespan,
        docs_url=None,  # served by web/docs.py from local assets (the CSP allows no CDN)
        redoc_url=None,
    )
    # Set in the factory, not the lifespan: a TestClient used without ``with`` skips the lifespan.
    app.state.runtime = rt
    app.state.settings = settings
    app.state.policy = rt.policy
    app.state.database = rt.db
    app.state.mailer = rt.mailer
    app.state.session_cache = PartnerSessionCache(clock=lambda: app.state.runtime.clock())
    app.state.session_cache.watch(rt.db.engine)
    # Innermost first: the key gate runs inside the body limit, the headers wrap every answer.
    app.add_middleware(ApiKeyGate, database=app.state.database)
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    app.add_middleware(SecurityHeadersMiddleware, https=settings.public_url.startswith("https://"))
    add_api_docs(app)
    app.mount("/static", CachedStatic(directory=str(Path(__file__).parent / "static")), name="static")
    for router in (
        auth_router,
        inbox_router,
        cockpit_router,
        api_router,
        webhook_router,
        salesforce_outbound_router,
        *privacy_routers,
        *report_routers,
        *cost_routers,
        *inbox_settings_routers,
        *policy_routers,
        partner_pages_router,  # self-service: partner profiles, a partner's own team
        inbox_team_router,
    ):
        app.include_router(router)
    app.include_router(pool_api_router)  # the pull side: the partner's pool and held leads
    app.include_router(pool_pages_router)
    app.include_router(ops_router(rt), include_in_schema=False)
    add_error_handlers(app)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/inbox", status_code=303)

    return app
