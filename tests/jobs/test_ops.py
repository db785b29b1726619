"""Operations: health and readiness, metrics from the database, JSON logs without personal data, status."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.cli.status_report import collect_status
from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.ops.logs import JsonFormatter, log_context
from leadbridge.ops.metrics import record_api_call
from leadbridge.ops.snapshot import record_poll_success, take_snapshot
from leadbridge.runtime import build_runtime
from leadbridge.sync import outbox
from leadbridge.web.health import ops_router
from tests.builders import a_lead


def _seed(database: Database) -> str:
    lead = a_lead()
    with database.transaction() as session:
        service = LeadService(session)
        service.receive(lead, actor="t", source_system="t", idempotency_key=f"r:{lead.id}")
        service.apply(lead.id, EventKind.QUALIFY, actor="t", idempotency_key=f"q:{lead.id}")
        for i in range(3):
            outbox.enqueue(
                session,
                target="home",
                kind="k",
                lead_id=lead.id,
                idempotency_key=f"o{i}",
                payload={},
                now=utcnow(),
            )
        record_poll_success(session, "home", worker="w:1")
    return lead.id


def _client(settings: Settings, database: Database) -> TestClient:
    web = FastAPI()
    web.include_router(ops_router(build_runtime(settings)))
    return TestClient(web, client=("127.0.0.1", 50000))  # /metrics is for loopback (or a token)


def test_given_a_migrated_database_then_healthz_and_readyz_answer_200(
    settings: Settings, database: Database
) -> None:
    client = _client(settings, database)
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"


def test_given_an_unmigrated_database_then_readyz_is_503_and_says_what_to_run(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    settings = Settings(database_url=url)
    response = _client(settings, Database(url)).get("/readyz")
    assert response.status_code == 503
    assert "leadbridge db upgrade" in response.json()["checks"]["database"]


def test_given_an_unreachable_broker_then_readyz_is_503(settings: Settings, database: Database) -> None:
    scaled = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    response = _client(scaled, database).get("/readyz")
    assert response.status_code == 503 and response.json()["checks"]["broker"] != "ok"


def test_metrics_show_leads_by_state_outbox_depth_and_api_calls(
    settings: Settings, database: Database
) -> None:
    _seed(database)
    record_api_call("home")
    record_api_call("home", "rate_limited")
    text = _client(settings, database).get("/metrics").text
    assert 'leadbridge_leads{state="qualified"} 1.0' in text
    assert 'leadbridge_outbox_rows{status="pending",target="home"} 3.0' in text
    assert 'leadbridge_outbox_oldest_waiting_age_seconds{target="home"}' in text
    assert 'leadbridge_api_errors_total{connection="home",kind="rate_limited"}' in text
    assert 'leadbridge_last_sync_timestamp_seconds{connection="home"}' in text


def test_snapshot_counts_waiting_outbox_rows_and_oldest_unrouted_lead(database: Database) -> None:
    _seed(database)
    snap = take_snapshot(database)
    assert snap.outbox_depth == 3 and snap.outbox["home"].by_status == {"pending": 3}
    assert snap.oldest_unrouted_lead_age_s is not None and snap.offers_pending == 0


def test_json_logs_carry_the_lead_id_and_hide_personal_data_at_info() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("leadbridge.test.ops")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        with log_context(lead_id="L-42", step="route_lead"):
            logger.info(
                "routed anna@example.com (+49 89 1234567)", extra={"email": "anna@example.com", "n": 2}
            )
            logger.debug("debug may show anna@example.com", extra={"email": "anna@example.com"})
    finally:
        logger.removeHandler(handler)
    info, debug = (json.loads(line) for line in stream.getvalue().splitlines())
    assert info["lead_id"] == "L-42" and info["step"] == "route_lead" and info["level"] == "info"
    assert "anna@example.com" not in json.dumps(info) and "1234567" not in info["msg"]
    assert info["msg"] == "routed <email> (<phone>)" and info["n"] == 2
    assert debug["email"] == "anna@example.com"


def test_status_lists_every_polled_connection_and_the_oldest_pending_work(
    db_url: str, database: Database
) -> None:
    _seed(database)
    settings = Settings(
        database_url=db_url,
        connections={
            "home": SalesforceConfig(),
            "acme": SalesforceConfig(role="partner"),
        },
    )
    data = collect_status(settings, database)
    assert data["mode"] == "embedded" and data["broker"] is None
    assert data["last_sync"]["acme"] is None and data["last_sync"]["home"] is not None
    assert data["outbox_depth"] == 3 and data["oldest_pending_s"]["outbox"] is not None


def test_status_cli_prints_json(sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBRIDGE_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("LEADBRIDGE_BROKER_URL", raising=False)
    _seed(Database(sqlite_url))
    _register()
    result = CliRunner().invoke(app, ["status", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout.strip().splitlines()[-1])
    assert data["leads_by_state"] == {"qualified": 1} and data["outbox_depth"] == 3


def test_worker_without_a_broker_explains_embedded_mode(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBRIDGE_DATABASE_URL", sqlite_url)
    monkeypatch.delenv("LEADBRIDGE_BROKER_URL", raising=False)
    _register()
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 1
    assert "LEADBRIDGE_BROKER_URL" in result.output and "leadbridge run" in result.output
