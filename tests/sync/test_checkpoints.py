"""Checkpoints move forward only, and keyset de-duplication keeps rows that share a stamp."""

from __future__ import annotations

from datetime import UTC, datetime

from leadbridge.core.store.database import Database
from leadbridge.ports import Change, Checkpoint, after_checkpoint
from leadbridge.sync import checkpoints

NOW = datetime(2026, 1, 5, tzinfo=UTC)


def test_given_a_saved_checkpoint_then_an_older_one_does_not_move_it_back(database: Database) -> None:
    with database.transaction() as session:
        checkpoints.save(session, "home", "Lead", Checkpoint("2026-01-05T10:00:00.000Z", "00Q2"), now=NOW)
    with database.transaction() as session:
        checkpoints.save(session, "home", "Lead", Checkpoint("2026-01-05T10:00:00.000Z", "00Q1"), now=NOW)
        checkpoints.save(session, "home", "Other", Checkpoint("2026-01-01T00:00:00.000Z", "x"), now=NOW)
    with database.transaction() as session:
        assert checkpoints.load(session, "home", "Lead") == Checkpoint("2026-01-05T10:00:00.000Z", "00Q2")
        assert checkpoints.load(session, "nowhere", "Lead") is None


def change(stamp: str, record_id: str) -> Change:
    return Change("Lead", record_id, stamp, {"Id": record_id})


def test_given_rows_sharing_the_checkpoint_stamp_then_only_those_after_its_id_are_kept() -> None:
    stamp = "2026-01-05T10:00:00.000Z"
    read = [change(stamp, "00Q3"), change(stamp, "00Q1"), change(stamp, "00Q2"), change(stamp, "00Q2")]
    read.append(change("2026-01-05T09:59:59.000Z", "00Q9"))  # the lookback window: already read
    kept = after_checkpoint(read, Checkpoint(stamp, "00Q1"))
    assert [c.external_id for c in kept] == ["00Q2", "00Q3"]
    assert [c.external_id for c in after_checkpoint(read, None)] == ["00Q9", "00Q1", "00Q2", "00Q3"]
