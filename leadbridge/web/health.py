"""``/healthz``, ``/readyz`` and ``/metrics`` as one FastAPI router the web app includes.

Rules:
- ``/healthz`` (liveness) answers 200 while the process can serve HTTP at all; it touches nothing
  else, so a slow database never gets a healthy process restarted;
- ``/readyz`` (readiness) answers 200 only when the database is reachable and its schema is at the
  latest migration, the broker answers (scaled mode) and the in-process scheduler runs (embedded
  mode, when started); otherwise 503 with each failed check and why;
- ``/metrics`` is the Prometheus text page (``ops.metrics``), for the metrics token or a direct
  loopback caller only (``web/clients.py``).

Use: ``app.include_router(ops_router(settings))``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.ops.metrics import exposition
from leadbridge.web.clients import metrics_allowed

Check = Callable[[], None]  # raises with a message for a person when not ready


def database_check(database: Database) -> Check:
    def check() -> None:
        database.require_current()  # connects; raises ConfigError naming `leadbridge db upgrade`

    return check


def broker_check(broker_url: str) -> Check:
    def check() -> None:
        import redis

        client = redis.Redis.from_url(broker_url, socket_connect_timeout=1, socket_timeout=1)
        try:
            client.ping()
        finally:
            client.close()

    return check


def scheduler_check() -> None:
    from leadbridge.jobs.embedded import running_scheduler

    scheduler = running_scheduler()
    if scheduler is not None and not scheduler.alive:
        raise RuntimeError("the in-process scheduler has stopped")


def readiness_checks(settings: Settings, database: Database) -> dict[str, Check]:
    checks: dict[str, Check] = {"database": database_check(database)}
    if settings.broker_url:
        checks["broker"] = broker_check(settings.broker_url)
    else:
        checks["scheduler"] = scheduler_check
    return checks


def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    """Run every check; returns (all passed, name → "ok" or the reason it failed)."""
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # a readiness probe reports every failure, it never raises
            results[name] = f"{type(error).__name__}: {error}"
    return all(v == "ok" for v in results.values()), results


def ops_router(settings: Settings, database: Database | None = None) -> APIRouter:
    """The operations endpoints for ``settings``' database and broker (module rules)."""
    database = database or Database(settings.sqlalchemy_url)
    checks = readiness_checks(settings, database)
    router = APIRouter(tags=["operations"])

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz() -> JSONResponse:
        ready, results = run_checks(checks)
        return JSONResponse({"ready": ready, "checks": results}, status_code=200 if ready else 503)

    @router.get("/metrics")
    def metrics(request: Request) -> Response:
        if not metrics_allowed(request, settings):
            return JSONResponse({"detail": "metrics need the metrics token (or a loopback caller)"}, 403)
        body, content_type = exposition(database)
        return Response(body, media_type=content_type)

    return router
