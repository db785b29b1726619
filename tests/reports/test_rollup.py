"""The daily pre-aggregates: filled by the ``rollup_reports`` step the reconcile loop publishes, read
for whole clean days, and never trusted for a day whose leads changed since."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, func, select

from leadbridge.core.model import new_id
from leadbridge.core.reports.cells import ReportCellRow
from leadbridge.core.reports.hours import ALPHA, bucket_of, percentile_of, value_of
from leadbridge.core.reports.rollup import ReportRollupRow, refresh
from leadbridge.core.reports.scorecard import partner_scorecard
from leadbridge.core.reports.window import ReportFilter
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow
from leadbridge.jobs.runner import execute
from leadbridge.runtime import build_runtime
from leadbridge.sync import reconcile
from leadbridge.sync.steps import ROLLUP_REPORTS
from tests.reports.history import History, script

ROLLED = datetime(2026, 12, 25, tzinfo=UTC)


@pytest.fixture
def history(database: Database) -> History:
    with database.transaction() as session:
        return script(session)


def _wins(database: Database, flt: ReportFilter) -> int:
    with database.transaction() as session:
        return sum(r.won for r in partner_scorecard(session, flt).rows)


def test_given_rolled_up_days_then_reports_read_them_not_the_raw_rows(
    database: Database, history: History
) -> None:
    with database.transaction() as session:
        refresh(session, now=ROLLED)
        stored = session.execute(select(func.count()).select_from(ReportCellRow)).scalar()
    assert stored
    whole = ReportFilter(datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 12, 24, tzinfo=UTC))
    partial = ReportFilter(datetime(2026, 10, 1, 0, 0, 1, tzinfo=UTC), datetime(2026, 12, 24, tzinfo=UTC))
    before = _wins(database, whole)
    assert before and _wins(database, partial) == before
    # Rows removed behind the lead's back (its updated_at untouched): whole days still come from
    # the pre-aggregates, which proves they are read; the partial first day is read raw.
    with database.transaction() as session:
        session.execute(delete(LeadEventRow).where(LeadEventRow.kind == "win"))
    assert _wins(database, whole) == before
    first_day = [
        e
        for lead in history.leads
        for e in lead.events
        if e.kind == "win" and e.at.date() == whole.since.date()
    ]  # type: ignore[union-attr]
    assert _wins(database, partial) == before - len(first_day)


def test_given_a_lead_changed_after_the_refresh_then_its_days_are_read_raw_until_the_next(
    database: Database, history: History
) -> None:
    with database.transaction() as session:
        refresh(session, now=ROLLED)
    everything = ReportFilter()
    before = _wins(database, everything)
    lead = history.leads[0]
    won_at = lead.created_at + timedelta(days=3)  # a win the partner's CRM reports late
    with database.transaction() as session:
        session.add(
            LeadEventRow(
                id=new_id("E"),
                lead_id=lead.id,
                seq=99,
                kind="win",
                from_state=None,
                to_state="won",
                actor="test",
                source_system="test",
                occurred_at=won_at,
                idempotency_key=f"late-win:{lead.id}",
                partner_id=next(iter(history.partners)),
                payload={"result": "won", "amount": "10.00"},
            )
        )
        row = session.get(LeadRow, lead.id)
        assert row is not None
        row.updated_at = ROLLED + timedelta(minutes=1)  # as every event updates its lead
    assert _wins(database, everything) == before + 1  # its days are dirty: read raw
    with database.transaction() as session:
        redone = refresh(session, now=ROLLED + timedelta(minutes=5))
    assert won_at.date() in redone and lead.created_at.date() in redone
    assert _wins(database, everything) == before + 1


def test_the_reconcile_loop_publishes_the_rollup_step_and_the_step_fills_the_pre_aggregates(
    db_url: str, history: History
) -> None:
    rt = build_runtime(Settings(database_url=db_url))
    with rt.db.transaction() as session:
        due = reconcile.due_rollup(session, datetime.now(UTC), rt.settings)
        assert [d.step for d in due] == [ROLLUP_REPORTS]
    execute(rt.context(), ROLLUP_REPORTS, ())
    with rt.db.transaction() as session:
        rollup = session.get(ReportRollupRow, 1)
        assert rollup is not None and rollup.rolled_until == datetime.now(UTC).date()
        assert session.execute(select(func.count()).select_from(ReportCellRow)).scalar()
        assert list(reconcile.due_rollup(session, datetime.now(UTC), rt.settings)) == []  # next in 5 min
        later = datetime.now(UTC) + timedelta(minutes=6)
        assert [d.step for d in reconcile.due_rollup(session, later, rt.settings)] == [ROLLUP_REPORTS]


@pytest.mark.parametrize("hours", [0.0, 0.0004, 0.02, 1.0, 3.3, 10.0, 47.9, 900.0])
def test_a_duration_bucket_stands_for_its_durations_within_alpha(hours: float) -> None:
    # The bound is reached at a bucket's upper edge (1.0 is one): allow for float rounding there.
    assert value_of(bucket_of(hours)) == pytest.approx(hours, rel=ALPHA * (1 + 1e-9), abs=0.001)


def test_percentiles_from_buckets_interpolate_between_ranks() -> None:
    values = [1.0, 2.0, 4.0, 8.0, 30.0]
    buckets: dict[int, int] = {}
    for value in values:
        buckets[bucket_of(value)] = buckets.get(bucket_of(value), 0) + 1
    assert percentile_of(buckets, 0.5) == pytest.approx(4.0, rel=ALPHA)
    assert percentile_of(buckets, 0.9) == pytest.approx(8.0 + (30.0 - 8.0) * 0.6, rel=ALPHA)
    assert percentile_of({}, 0.5) is None
