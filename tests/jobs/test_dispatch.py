"""Kicks are published only after their transaction commits, never for a rolled-back one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.core.sync import outbox
from leadbridge.jobs import dispatch, kicks
from leadbridge.jobs.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD
from tests.builders import a_lead


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self.sent.append((step, args))


def test_given_a_kick_in_a_transaction_when_it_commits_then_the_step_is_sent_after_the_commit(
    database: Database,
) -> None:
    seen_committed: list[bool] = []

    class Checking(Recorder):
        def send(self, step: str, args: tuple[str, ...]) -> None:
            with database.transaction() as other:  # a worker's view: the lead must already exist
                seen_committed.append(other.get(LeadRow, args[0]) is not None)
            super().send(step, args)

    recorder = Checking()
    dispatch.install(recorder)
    lead = a_lead()
    with database.transaction() as session:
        LeadService(session).receive(lead, actor="api", source_system="api", idempotency_key="k1")
        dispatch.dispatch_after_commit(session, ROUTE_LEAD, lead.id)
        assert recorder.sent == []
    assert recorder.sent == [(ROUTE_LEAD, (lead.id,))]
    assert seen_committed == [True]


def test_given_a_kick_when_the_transaction_rolls_back_then_nothing_is_sent(database: Database) -> None:
    recorder = Recorder()
    dispatch.install(recorder)
    with pytest.raises(RuntimeError), database.transaction() as session:
        dispatch.dispatch_after_commit(session, ROUTE_LEAD, "L-1")
        raise RuntimeError("boom")
    assert recorder.sent == []


@pytest.fixture
def kicked() -> Iterator[Recorder]:
    recorder = Recorder()
    dispatch.install(recorder)
    kicks.install()
    yield recorder
    kicks.uninstall()


def test_given_kicks_when_a_lead_is_qualified_then_it_is_routed_right_after_the_commit(
    database: Database, kicked: Recorder
) -> None:
    lead = a_lead()
    with database.transaction() as session:
        take_in(session, lead)
        session.flush()
        assert kicked.sent == []
    assert kicked.sent == [(ROUTE_LEAD, (ROUTE_ALL,))]


def test_given_kicks_when_outbox_rows_are_queued_then_their_target_is_flushed_once_after_commit(
    database: Database, kicked: Recorder
) -> None:
    with database.transaction() as session:
        for i in range(3):
            outbox.enqueue(
                session,
                target="acme",
                kind="k",
                lead_id=None,
                idempotency_key=f"k{i}",
                payload={},
                now=utcnow(),
            )
    assert kicked.sent == [(FLUSH_OUTBOX, ("acme",))]


def test_given_kicks_when_the_transaction_rolls_back_then_nothing_is_kicked(
    database: Database, kicked: Recorder
) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        take_in(session, a_lead())
        session.flush()
        raise RuntimeError("boom")
    assert kicked.sent == []
