"""Kicks are published only after their transaction commits, never for a rolled-back one."""

from __future__ import annotations

import pytest

from leadbridge.core import router
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.core.policy import Distribution, Mode, default_policy
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from leadbridge.runtime import Runtime
from leadbridge.sync import dispatch, outbox, projector
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.steps import FLUSH_OUTBOX, ROUTE_ALL, ROUTE_LEAD
from tests.builders import a_lead, a_partner


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    def send(self, step: str, args: tuple[str, ...]) -> None:
        self.sent.append((step, args))


def test_given_a_kick_in_a_transaction_when_it_commits_then_the_step_is_sent_after_the_commit(
    rt: Runtime, database: Database
) -> None:
    seen_committed: list[bool] = []

    class Checking(Recorder):
        def send(self, step: str, args: tuple[str, ...]) -> None:
            with database.transaction() as other:  # a worker's view: the lead must already exist
                seen_committed.append(other.get(LeadRow, args[0]) is not None)
            super().send(step, args)

    recorder = Checking()
    rt.dispatcher.switch(recorder)
    lead = a_lead()
    with database.transaction() as session:
        LeadService(session).receive(lead, actor="api", source_system="api", idempotency_key="k1")
        dispatch.dispatch_after_commit(session, ROUTE_LEAD, lead.id)
        assert recorder.sent == []
    assert recorder.sent == [(ROUTE_LEAD, (lead.id,))]
    assert seen_committed == [True]


def test_given_a_kick_when_the_transaction_rolls_back_then_nothing_is_sent(
    rt: Runtime, database: Database
) -> None:
    recorder = Recorder()
    rt.dispatcher.switch(recorder)
    with pytest.raises(RuntimeError), database.transaction() as session:
        dispatch.dispatch_after_commit(session, ROUTE_LEAD, "L-1")
        raise RuntimeError("boom")
    assert recorder.sent == []


@pytest.fixture
def kicked(rt: Runtime) -> Recorder:
    recorder = Recorder()
    rt.dispatcher.switch(recorder)
    return recorder


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


def test_given_kicks_when_a_routing_batch_queues_offers_in_bulk_then_each_partner_target_is_flushed(
    database: Database, kicked: Recorder
) -> None:
    with database.transaction() as session:
        for name in ("p1", "p2"):
            a_partner(session, connection=name)
        service = LeadService(session)
        for _ in range(4):
            lead = a_lead()
            service.receive(lead, actor="test", source_system="test", idempotency_key=f"r:{lead.id}")
            service.apply(lead.id, EventKind.QUALIFY, actor="test", idempotency_key=f"q:{lead.id}")
    kicked.sent.clear()
    projector.attach(database, SyncTargets(partner=frozenset({"p1", "p2"})))
    offer_two = Distribution(mode=Mode.OFFER_N, offer_n=2)
    policy = default_policy().model_copy(update={"distribution": offer_two})
    summary = router.route_pending(database, policy=policy, chunk=10)
    assert summary.offers == 8  # one chunk: the offers went in through the bulk path
    assert sorted(args for step, args in kicked.sent if step == FLUSH_OUTBOX) == [("p1",), ("p2",)]
