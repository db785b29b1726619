"""The contract every connector passes. A connector's test module subclasses ``ConnectorContract``
and provides a ``harness`` fixture (see ``Harness``); the tests below then run against it.

What the contract promises:
- ``check`` passes on good settings and fails *well* on bad ones (a message, not a traceback);
- reading twice from a checkpoint loses and duplicates nothing, also for rows sharing a stamp and
  rows changed after the first read;
- writes are idempotent: the same batch twice creates nothing new;
- a 429 followed by a 200 succeeds;
- an expired session is recovered from;
- quota exhaustion stops the read with the checkpoint of what was taken in saved, and the next run
  finishes the job.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import pytest

from leadbridge.core.errors import QuotaExhausted
from leadbridge.ports import Change, Checkpoint, WriteItem, advance


class Harness(Protocol):
    stream: str
    write_stream: str
    page_size: int  # records per page the harness's connector reads

    def connector(self) -> Any:
        """A connector with good settings, on an empty-but-ready remote system."""

    def broken_connector(self) -> Any:
        """A connector with a wrong secret."""

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        """Create ``count`` readable records remotely (optionally all with one stamp); their ids."""

    def touch(self, ids: Sequence[str]) -> None:
        """Change these records remotely so their stamps move forward."""

    def write_items(self, count: int) -> list[WriteItem]:
        """Items for ``write_stream`` that create ``count`` records the first time."""

    def remote_count(self) -> int:
        """How many records ``write_stream`` has remotely."""

    def fail_next_call_with_429(self, connector: Any) -> None: ...

    def expire_session(self) -> None: ...

    def allow_calls(self, calls: int) -> None:
        """Let only ``calls`` more API calls pass today (then the quota is exhausted)."""


def read_all(connector: Any, stream: str, since: Checkpoint | None) -> tuple[list[Change], Checkpoint | None]:
    taken: list[Change] = []
    for page in connector.read_changes(stream, since):
        taken += page
        since = advance(since, page, connector.lookback)
    return taken, since


class ConnectorContract:
    """Inherit and provide ``harness``; every test here then applies to the connector."""

    def test_given_good_settings_when_checking_then_it_passes(self, harness: Harness) -> None:
        result = harness.connector().check()
        assert result.ok, result.message

    def test_given_a_wrong_secret_when_checking_then_it_fails_with_an_actionable_message(
        self, harness: Harness
    ) -> None:
        result = harness.broken_connector().check()
        assert not result.ok
        assert "Traceback" not in result.message
        assert "check" in result.message.lower() or "refused" in result.message.lower()

    def test_given_rows_sharing_a_stamp_when_reading_twice_then_nothing_is_lost_or_doubled(
        self, harness: Harness
    ) -> None:
        first_ids = harness.add_records(30, same_stamp=True)
        connector = harness.connector()
        taken, checkpoint = read_all(connector, harness.stream, None)
        assert set(first_ids) <= {c.external_id for c in taken}
        assert len(taken) == len({c.external_id for c in taken})
        again, checkpoint_again = read_all(connector, harness.stream, checkpoint)
        assert again == [] and checkpoint_again == checkpoint
        later = harness.add_records(5, same_stamp=True)
        harness.touch(first_ids[:3])
        more, _ = read_all(connector, harness.stream, checkpoint)
        assert sorted(c.external_id for c in more) == sorted([*later, *first_ids[:3]])

    def test_given_the_same_batch_twice_when_writing_then_nothing_is_created_twice(
        self, harness: Harness
    ) -> None:
        connector = harness.connector()
        before = harness.remote_count()
        items = harness.write_items(3)
        first = connector.write_batch(harness.write_stream, items)
        second = connector.write_batch(harness.write_stream, items)
        assert all(r.ok for r in [*first, *second]), [r.error for r in [*first, *second]]
        assert [r.remote_id for r in first] == [r.remote_id for r in second]
        assert harness.remote_count() == before + 3

    def test_given_a_429_then_a_200_when_reading_then_it_succeeds(self, harness: Harness) -> None:
        ids = harness.add_records(3, same_stamp=False)
        connector = harness.connector()
        harness.fail_next_call_with_429(connector)
        taken, _ = read_all(connector, harness.stream, None)
        assert set(ids) <= {c.external_id for c in taken}

    def test_given_an_expired_session_when_reading_then_it_logs_in_again(self, harness: Harness) -> None:
        ids = harness.add_records(3, same_stamp=False)
        connector = harness.connector()
        assert connector.check().ok
        harness.expire_session()
        taken, _ = read_all(connector, harness.stream, None)
        assert set(ids) <= {c.external_id for c in taken}

    def test_given_the_quota_runs_out_when_reading_then_it_stops_and_resumes_from_the_checkpoint(
        self, harness: Harness
    ) -> None:
        ids = harness.add_records(harness.page_size * 2 + 50, same_stamp=True)  # three pages
        connector = harness.connector()
        pages: list[list[Change]] = []
        checkpoint: Checkpoint | None = None
        harness.allow_calls(2)
        with pytest.raises(QuotaExhausted):
            for page in connector.read_changes(harness.stream, checkpoint):
                pages.append(page)
                checkpoint = advance(checkpoint, page, connector.lookback)  # saved with each page
        assert pages, "at least one page was taken in before the quota ran out"
        harness.allow_calls(1000)
        rest, _ = read_all(harness.connector(), harness.stream, checkpoint)
        seen = [c.external_id for page in pages for c in page] + [c.external_id for c in rest]
        assert len(seen) == len(set(seen))
        assert set(ids) <= set(seen)
