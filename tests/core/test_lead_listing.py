"""``leads list --json`` / ``--jsonl`` stream: memory does not grow with the number of leads listed."""

from __future__ import annotations

import json
import tracemalloc
from contextlib import redirect_stdout
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from leadbridge.cli.leads import list_command
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow

BASE = datetime(2025, 1, 1, tzinfo=UTC)


def fill(url: str, count: int) -> None:
    database = Database(url)
    database.upgrade()
    rows = [
        {
            "id": f"L-{n:07d}",
            "source_connection": "csv",
            "external_id": f"X-{n}",
            "state": "qualified",
            "round": 0,
            "email": f"lead{n}@firma.example",
            "company": f"Firma {n} GmbH",
            "country": "DE",
            "postal_code": "80331",
            "data": {"note": "x" * 200},
            "version": 2,
            "created_at": BASE + timedelta(seconds=n),
            "updated_at": BASE + timedelta(seconds=n),
        }
        for n in range(count)
    ]
    with database.transaction() as session:
        for start in range(0, count, 5000):
            session.execute(insert(LeadRow), rows[start : start + 5000])


def peak_of_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, count: int, *, jsonl: bool) -> int:
    url = f"sqlite:///{tmp_path / f'list{count}.db'}"
    fill(url, count)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEADBRIDGE_DATABASE_URL", url)
    out = tmp_path / f"out{count}.json"
    with out.open("w") as handle, redirect_stdout(handle):
        tracemalloc.start()
        try:
            list_command(state=None, partner=None, search=None, limit=0, as_json=not jsonl, jsonl=jsonl)
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    text = out.read_text()
    listed = [json.loads(line) for line in text.splitlines()] if jsonl else json.loads(text)
    assert len(listed) == count
    assert listed[0]["id"] == f"L-{count - 1:07d}" and listed[-1]["id"] == "L-0000000"  # newest first
    return peak


@pytest.mark.parametrize("jsonl", [False, True])
def test_given_five_times_more_leads_when_listed_as_json_then_peak_memory_stays_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jsonl: bool
) -> None:
    small = peak_of_listing(tmp_path, monkeypatch, 4_000, jsonl=jsonl)
    large = peak_of_listing(tmp_path, monkeypatch, 20_000, jsonl=jsonl)
    assert large < small * 1.5, (small, large)
