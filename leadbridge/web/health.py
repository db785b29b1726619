"""``/healthz``, ``/readyz`` and ``/metrics`` as one FastAPI router the web app includes.

Rules:
- ``/healthz`` (liveness) answers 200 while the process can serve HTTP at all; it touches nothing
  else, so a slow database never gets a healthy process restarted;
- ``/readyz`` (readiness) answers 200 only when the database is reachable and its schema is at the
  latest migration, the broker answers (scaled mode), the in-process scheduler runs (embedded
  mode, when started) and the reconcile loop's last recorded sweep is younger than
  ``SWEEP_STALE_S`` (a stopped sweep is a silent stall otherwise); else 503 with each failed check;
- ``/metrics`` is the Prometheus text page (``ops.metrics``), for the metrics token or a direct
  loopback caller only (``web/clients.py``).

Use: ``app.include_router(ops_router(rt))``.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import TimerRow
from leadbridge.ops.metrics import exposition
from leadbridge.ops.snapshot import SWEEP_TIMER
from leadbridge.runtime import Runtime
from leadbridge.web.clients import metrics_allowed

Check = Callable[[], None]  # raises with a message for a person when not ready


def database_check(database: Database) -> Check:
    def check() -> None:
        database.require_current()  # connects; raises ConfigError naming `leadbridge db upgrade`

    return check


SWEEP_STALE_S = 60.0


def sweep_check(database: Database) -> Check:
    def check() -> None:
        with database.transaction() as session:
            row = session.get(TimerRow, SWEEP_TIMER)
        if row is None or row.last_run_at is None:
            return  # never swept yet: a fresh install, or beat not started (status shows "never")
        age = (utcnow() - row.last_run_at).total_seconds()
        if age > SWEEP_STALE_S:
            raise RuntimeError(
                f"the reconcile loop last swept {age:.0f}s ago: is `leadbridge beat` (scaled) or "
                "`leadbridge run` (embedded) running?"
            )

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


def scheduler_check(rt: Runtime) -> Check:
    def check() -> None:
        from leadbridge.jobs.embedded import running_scheduler

        scheduler = running_scheduler(rt)
        if scheduler is not None and not scheduler.alive:
            raise RuntimeError("the in-process scheduler has stopped")

    return check


def readiness_checks(rt: Runtime) -> dict[str, Check]:
    checks: dict[str, Check] = {"database": database_check(rt.db), "reconcile": sweep_check(rt.db)}
    if rt.settings.broker_url:
        checks["broker"] = broker_check(rt.settings.broker_url)
    else:
        checks["scheduler"] = scheduler_check(rt)
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


def ops_router(rt: Runtime) -> APIRouter:
    """The operations endpoints for the runtime's database and broker (module rules)."""
    database, settings = rt.db, rt.settings
    checks = readiness_checks(rt)
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
