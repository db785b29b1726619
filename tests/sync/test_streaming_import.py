"""Streaming CSV import: bounded memory, all-or-nothing by default, resumable, history as history."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from leadbridge.core.history import HISTORY_MODE
from leadbridge.core.intake import take_in
from leadbridge.core.model import Lead
from leadbridge.core.policy import Performance
from leadbridge.core.stats_query import load_stats
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import IntakeRow, LeadEventRow, LeadRow, OfferRow, OutboxRow
from leadbridge.sync import importing
from leadbridge.sync.bulk_intake import Incoming, take_in_chunk
from leadbridge.sync.importing import import_leads, import_partners

HEADER = "external_id,first_name,last_name,email,company,postal_code,city,country,product_interests,stage"


def lead_line(n: int) -> str:
    stage = ("lead", "mql", "sql")[n % 3]
    place = f"{80000 + n % 999},München,DE"
    return f"S-{n},Anna,Nummer{n},anna.{n}@firma{n % 97}.example,Firma {n} GmbH,{place},heat_pumps,{stage}"


def leads_file(path: Path, rows: int, *, bad: dict[int, str] | None = None, extra: str = "") -> Path:
    """``rows`` leads; ``bad`` replaces the lead of that row number with a bad line."""
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER + extra + "\n")
        for n in range(rows):
            handle.write((bad or {}).get(n, lead_line(n)) + "\n")
    return path


def count(database: Database, model: type) -> int:
    with database.transaction() as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def peak_import_bytes(tmp_path: Path, rows: int) -> int:
    database = Database(f"sqlite:///{tmp_path / f'm{rows}.db'}")
    database.upgrade()
    path = leads_file(tmp_path / f"m{rows}.csv", rows)
    tracemalloc.start()
    try:
        summary = import_leads(database, path)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.imported["created"] == rows
    return peak


def test_given_a_five_times_larger_file_when_imported_then_peak_memory_stays_the_same(tmp_path: Path) -> None:
    small = peak_import_bytes(tmp_path, 3_000)
    large = peak_import_bytes(tmp_path, 15_000)
    # Memory follows the chunk, not the file: holding the rows would make the large peak ~5 times
    # the small one (each row costs a few KB as a validated lead and its JSON).
    assert large < small * 1.5, (small, large)


def test_given_a_bad_row_after_several_chunks_when_imported_then_nothing_is_written(
    database: Database, tmp_path: Path
) -> None:
    rows = importing.CHUNK * 2 + 500
    path = leads_file(
        tmp_path / "late-error.csv", rows, bad={rows - 1: "S-x,Bad,Row,,Firma,80331,München,DE,,mql"}
    )
    refused = import_leads(database, path)
    assert refused.aborted and refused.invalid == 1
    assert refused.errors == [{"line": rows + 1, "message": "email is required"}]
    assert count(database, LeadRow) == 0
    partial = import_leads(database, path, skip_invalid=True)
    assert partial.imported["created"] == rows - 1 and partial.skipped_invalid == 1
    assert count(database, LeadRow) == rows - 1


def test_given_an_import_interrupted_midway_when_run_again_then_it_continues_without_duplicates(
    database: Database, tmp_path: Path
) -> None:
    rows = importing.CHUNK * 3 + 10
    path = leads_file(tmp_path / "resume.csv", rows)

    def interrupt(phase: str, done: int, _bytes: int) -> None:
        if phase == "importing" and done >= importing.CHUNK * 2 + 100:
            raise KeyboardInterrupt  # Ctrl-C, a killed process: whatever stops it between rows

    with pytest.raises(KeyboardInterrupt):
        import_leads(database, path, progress=interrupt)
    kept = count(database, LeadRow)
    assert kept == importing.CHUNK * 2  # whole chunks were committed, the chunk in flight was not
    again = import_leads(database, path)
    assert again.imported == {"created": rows - kept, "updated": 0, "unchanged": kept}
    assert count(database, LeadRow) == rows
    assert count(database, IntakeRow) == rows
    assert count(database, LeadEventRow) == rows * 2  # receive + qualify/nurture, once each


def test_given_the_same_key_in_different_chunks_when_skip_invalid_then_the_duplicate_names_the_first_line(
    database: Database, tmp_path: Path
) -> None:
    rows = importing.CHUNK + 20
    path = leads_file(tmp_path / "dupes.csv", rows, bad={rows - 1: lead_line(3)})
    summary = import_leads(database, path, skip_invalid=True)
    assert summary.errors == [{"line": rows + 1, "message": "duplicate of line 5 (s-3)"}]
    assert summary.imported["created"] == rows - 1


def test_bulk_intake_writes_what_take_in_writes(database: Database) -> None:
    def rows(lead_id: str) -> tuple[object, ...]:
        with database.transaction() as session:
            lead = session.get(LeadRow, lead_id)
            assert lead is not None
            events = session.execute(
                select(
                    LeadEventRow.seq,
                    LeadEventRow.kind,
                    LeadEventRow.from_state,
                    LeadEventRow.to_state,
                    LeadEventRow.actor,
                    LeadEventRow.source_system,
                    LeadEventRow.idempotency_key,
                    LeadEventRow.payload,
                )
                .where(LeadEventRow.lead_id == lead_id)
                .order_by(LeadEventRow.seq)
            ).all()
            intake = session.execute(select(IntakeRow.stamp).where(IntakeRow.lead_id == lead_id)).scalar_one()
            keys = [tuple(str(v).replace(lead_id, "<id>") for v in event) for event in events]
            return (
                lead.state,
                lead.version,
                lead.round,
                lead.email,
                lead.company,
                lead.country,
                keys,
                intake,
            )

    for stage in ("lead", "sql"):
        one = Lead(source_connection="api", external_id=f"A-{stage}", email="a@b.example", stage=stage)
        other = Lead(source_connection="api", external_id=f"B-{stage}", email="a@b.example", stage=stage)
        with database.transaction() as session:
            checked = take_in(session, one, actor="t")
            (bulk,) = take_in_chunk(session, [Incoming(other)], actor="t")
        assert rows(checked.lead_id)[:6] == rows(bulk.lead_id)[:6]

        # the same events, payloads included (keys differ by the external id)
        def without_key(found: tuple[object, ...]) -> list[tuple[str, ...]]:
            return [k[:-2] + k[-1:] for k in found[6]]  # type: ignore[attr-defined]

        assert without_key(rows(checked.lead_id)) == without_key(rows(bulk.lead_id))


PARTNERS = (
    "external_id,name,countries,tier,contact_email\n"
    "P-A,Alpha,DE,gold,a@alpha.example\n"
    "P-B,Beta,DE,gold,b@beta.example\n"
)


def test_given_closed_leads_when_imported_then_they_are_history_that_feeds_partner_stats(
    database: Database, tmp_path: Path
) -> None:
    (tmp_path / "p.csv").write_text(PARTNERS)
    assert import_partners(database, tmp_path / "p.csv").imported == {
        "created": 2,
        "updated": 0,
        "unchanged": 0,
    }
    extra = ",outcome,partner,offered_at,accepted_at,closed_at,amount,lost_reason"
    history = {
        0: lead_line(0) + ",won,P-A,2024-01-02,2024-01-03T10:00:00Z,2024-03-01,12000,",
        1: lead_line(1) + ",lost,P-A,2024-02-01,2024-02-01T12:00:00Z,2024-04-01,,price",
        2: lead_line(2) + ",won,p-b,,,2024-05-01,900,",
        3: lead_line(3) + ",,,,,,,",  # an open lead in the same file
    }
    path = leads_file(tmp_path / "history.csv", 4, bad=history, extra=extra)
    summary = import_leads(database, path)
    assert summary.imported["created"] == 4, summary.errors
    with database.transaction() as session:
        states = dict(session.execute(select(LeadRow.external_id, LeadRow.state)).all())
        offers = session.execute(select(OfferRow.mode, OfferRow.status, OfferRow.partner_id)).all()
        stats = load_stats(session, Performance(), now=datetime.now(UTC))
        outbox = session.execute(select(func.count()).select_from(OutboxRow)).scalar_one()
        won = session.execute(select(LeadRow).where(LeadRow.external_id == "S-0")).scalar_one()
    assert states == {"S-0": "won", "S-1": "lost", "S-2": "won", "S-3": "nurture"}
    assert won.created_at.isoformat().startswith("2024-01-02")  # received when it happened
    assert {(mode, status) for mode, status, _ in offers} == {(HISTORY_MODE, "accepted")}
    alpha = next(p for p in stats.values() if p.won == 1 and p.lost == 1)
    assert alpha.accepted == 2 and alpha.median_accept_hours is not None
    assert sorted((s.won, s.lost) for s in stats.values()) == [(1, 0), (1, 1)]
    assert outbox == 0
    again = import_leads(database, path)
    assert again.imported == {"created": 0, "updated": 0, "unchanged": 4}
    assert count(database, OfferRow) == 3


def test_history_naming_an_unknown_partner_is_a_bad_row(database: Database, tmp_path: Path) -> None:
    extra = ",outcome,partner,closed_at"
    path = leads_file(tmp_path / "h.csv", 2, bad={1: lead_line(1) + ",won,P-NOPE,2024-05-01"}, extra=extra)
    path.write_text(path.read_text().replace(lead_line(0) + "\n", lead_line(0) + ",,,\n"))
    summary = import_leads(database, path)
    assert summary.aborted
    assert "unknown partner 'P-NOPE'" in summary.errors[0]["message"]
    assert count(database, LeadRow) == 0


@pytest.mark.postgres
def test_given_tables_growing_from_empty_when_imported_then_postgres_statistics_follow(
    postgres_url: str, tmp_path: Path
) -> None:
    from tests.conftest import _truncate

    _truncate(postgres_url)
    database = Database(postgres_url)
    with database.engine.connect() as conn:
        conn.exec_driver_sql("SELECT pg_stat_reset()")
    import_leads(database, leads_file(tmp_path / "grow.csv", importing.CHUNK * 4 + 1))
    with database.engine.connect() as conn:
        analyzed = dict(
            conn.exec_driver_sql(
                "SELECT relname, last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname IN ('leads', 'intake_log')"
            ).all()
        )
    # without it the planner keeps an empty table's estimates and scans every row per chunk
    assert analyzed == {"leads": True, "intake_log": True}
