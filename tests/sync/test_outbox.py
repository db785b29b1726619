"""The outbox: claims, coalescing, backoff, dead letters, stale claims and retry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.sync import outbox
from leadbridge.sync.outbox import OutboxSettings, OutboxStatus

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def queue(database: Database, n: int, *, target: str = "home", lead: str | None = None) -> None:
    with database.transaction() as session:
        for i in range(n):
            outbox.enqueue(
                session,
                target=target,
                kind="lead_status",
                lead_id=lead or f"L-{i}",
                idempotency_key=f"{target}:{lead}:{i}",
                payload={"event_id": f"E-{i}"},
                now=T0,
            )


def test_given_the_same_key_twice_then_one_row_is_queued(database: Database) -> None:
    with database.transaction() as session:
        first = outbox.enqueue(
            session, target="home", kind="k", lead_id="L-1", idempotency_key="same", payload={}, now=T0
        )
        again = outbox.enqueue(
            session, target="home", kind="k", lead_id="L-1", idempotency_key="same", payload={}, now=T0
        )
    assert (first, again) == (True, False)
    with database.transaction() as session:
        assert len(outbox.list_rows(session)) == 1


def test_given_two_workers_when_claiming_then_no_row_is_claimed_twice(database: Database) -> None:
    queue(database, 5)
    with database.transaction() as session:
        a = [r.id for r in outbox.claim(session, "home", worker="a", now=T0, limit=3)]
    with database.transaction() as session:
        b = [r.id for r in outbox.claim(session, "home", worker="b", now=T0, limit=3)]
    assert len(a) == 3 and len(b) == 2 and not set(a) & set(b)


def test_given_a_dead_workers_claim_when_stale_then_another_worker_takes_it_over(database: Database) -> None:
    queue(database, 2)
    with database.transaction() as session:
        ids = [r.id for r in outbox.claim(session, "home", worker="dead", now=T0, limit=10)]
    with database.transaction() as session:
        assert outbox.claim(session, "home", worker="b", now=T0 + timedelta(minutes=1), limit=10) == []
    with database.transaction() as session:
        taken = outbox.claim(session, "home", worker="b", now=T0 + timedelta(minutes=6), limit=10)
        assert sorted(r.id for r in taken) == sorted(ids)
    with database.transaction() as session:  # the dead worker wakes up: its late result is ignored
        assert outbox.mark_sent(session, ids, worker="dead", now=T0) == 0


def test_given_several_rows_for_one_lead_then_they_coalesce_into_one_write(database: Database) -> None:
    queue(database, 3, lead="L-same")
    queue(database, 1, lead="L-other")
    with database.transaction() as session:
        groups = outbox.coalesce(outbox.claim(session, "home", worker="w", now=T0, limit=10))
    assert sorted(len(rows) for rows in groups.values()) == [1, 3]


def test_given_failures_then_backoff_and_dead_letter_after_the_last_try(database: Database) -> None:
    settings = OutboxSettings(max_attempts=2)
    queue(database, 1)
    now = T0
    with database.transaction() as session:
        ids = [r.id for r in outbox.claim(session, "home", worker="w", now=now, limit=10)]
        outbox.mark_failed(session, ids, "503", worker="w", now=now, settings=settings)
    with database.transaction() as session:
        row = outbox.list_rows(session)[0]
        assert row.status == OutboxStatus.PENDING and row.next_attempt_at >= now and row.attempts == 1
        due = row.next_attempt_at
        early = due - timedelta(microseconds=1)
        assert outbox.claim(session, "home", worker="w", now=early, limit=9) == []
    with database.transaction() as session:
        ids = [r.id for r in outbox.claim(session, "home", worker="w", now=due, limit=10)]
        outbox.mark_failed(session, ids, "503 again", worker="w", now=due, settings=settings)
    with database.transaction() as session:
        row = outbox.list_rows(session)[0]
        assert row.status == OutboxStatus.DEAD and row.last_error == "503 again"
        assert outbox.claim(session, "home", worker="w", now=due + timedelta(days=1), limit=10) == []
    with database.transaction() as session:
        assert outbox.retry_dead(session, now=due) == 1
    with database.transaction() as session:
        again = outbox.claim(session, "home", worker="w", now=due, limit=10)
        assert len(again) == 1 and again[0].attempts == 0


def test_given_a_quota_stop_then_release_does_not_count_a_try(database: Database) -> None:
    queue(database, 1)
    with database.transaction() as session:
        ids = [r.id for r in outbox.claim(session, "home", worker="w", now=T0, limit=10)]
        outbox.release(session, ids, worker="w", not_before=T0 + timedelta(hours=1))
    with database.transaction() as session:
        row = outbox.list_rows(session)[0]
        assert row.attempts == 0 and row.status == OutboxStatus.PENDING
        assert outbox.claim(session, "home", worker="w", now=T0, limit=10) == []


@pytest.mark.postgres
def test_given_two_open_claims_on_postgresql_then_skip_locked_hands_them_different_rows(
    postgres_url: str,
) -> None:
    database = Database(postgres_url)
    with database.transaction() as session:
        session.execute(delete(OutboxRow))
    queue(database, 6)
    with database.transaction() as first:  # still open (rows locked) while the second worker claims
        mine = {r.id for r in outbox.claim(first, "home", worker="a", now=T0, limit=4)}
        with database.transaction() as second:
            theirs = {r.id for r in outbox.claim(second, "home", worker="b", now=T0, limit=4)}
    assert len(mine) == 4 and len(theirs) == 2 and not mine & theirs


def test_given_write_backs_naming_partners_then_they_still_coalesce_per_lead(database: Database) -> None:
    with database.transaction() as session:
        for n, (kind, partner) in enumerate(
            [("lead_status", "P-1"), ("lead_status", None), ("partner_lead", "P-1"), ("partner_lead", "P-2")]
        ):
            outbox.enqueue(
                session,
                target="home",
                kind=kind,
                lead_id="L-1",
                idempotency_key=f"k{n}",
                payload={"partner_id": partner},
                now=T0,
            )
    with database.transaction() as session:
        groups = outbox.coalesce(outbox.claim(session, "home", worker="w", now=T0, limit=10))
    assert sorted(groups) == [
        ("L-1", "lead_status", ""),
        ("L-1", "partner_lead", "P-1"),
        ("L-1", "partner_lead", "P-2"),
    ]
