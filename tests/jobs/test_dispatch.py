"""Kicks are published only after their transaction commits, never for a rolled-back one."""

from __future__ import annotations

import pytest

from leadbridge.core.leads import LeadService
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs import dispatch
from leadbridge.jobs.steps import ROUTE_LEAD
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
