"""The composition root: runtimes stay apart in one process, and the CLI builds one only when a
command needs it (``--help`` and ``init`` work with no configuration at all)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.runtime import build_runtime
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD
from tests.builders import a_lead


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self.sent.append((step, args))


def test_two_runtimes_in_one_process_never_see_each_others_listeners(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    first, second = Recorder(), Recorder()
    home = build_runtime(settings, dispatcher=first, targets=SyncTargets(manufacturer=frozenset({"test"})))
    other = build_runtime(settings, dispatcher=second, targets=SyncTargets())
    for database in (home.db, other.db, Database(sqlite_url)):  # the last: a bare one, no listeners
        _routing_lead(database)
    assert first.sent == [(ROUTE_LEAD, (ROUTE_ALL,)), (FLUSH_OUTBOX, ("test",))]  # its write-back too
    assert second.sent == [(ROUTE_LEAD, (ROUTE_ALL,))]
    with home.db.transaction() as session:
        rows = session.execute(select(OutboxRow.lead_id)).scalars().all()
    assert len(rows) == 1  # only the lead routed through ``home`` queued its write-back


def _routing_lead(database: Database) -> None:
    lead = a_lead(source_connection="test")
    with database.transaction() as session:
        take_in(session, lead)
        LeadService(session).apply(lead.id, EventKind.ROUTE, actor="t", idempotency_key=f"route:{lead.id}")


def test_a_test_swaps_a_step_in_its_own_runtime_only(sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url)
    mine = build_runtime(settings)
    mine.steps = mine.steps.replace(**{ROUTE_LEAD: lambda ctx, lead_id: []})
    assert build_runtime(settings).steps.resolve(ROUTE_LEAD) is not mine.steps.resolve(ROUTE_LEAD)


@pytest.mark.parametrize("args", [["sync", "--help"], ["route", "--help"], ["--help"]])
def test_help_needs_no_configuration(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADBRIDGE_CONFIG", raising=False)
    monkeypatch.setenv("LEADBRIDGE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")  # never opened
    _register()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_init_works_where_no_configuration_exists_yet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LEADBRIDGE_CONFIG", raising=False)
    monkeypatch.delenv("LEADBRIDGE_DATABASE_URL", raising=False)
    _register()
    result = CliRunner().invoke(app, ["init", str(tmp_path / "project")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "project" / "leadbridge.yaml").exists()
