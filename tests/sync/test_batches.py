"""Bulk paths (event batches): a page of new leads is taken in with one flush, a routing chunk in one
transaction; when a batch's presumption fails (a concurrent writer, a clashing key) it is redone one
record at a time, with the same outcome and nothing lost or doubled."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select

from leadbridge.core import router
from leadbridge.core.event_batch import event_batch
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.model import utcnow
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, OutboxRow
from leadbridge.sync import links, projector, pull
from leadbridge.sync.projector import SyncTargets
from leadbridge.sync.pull import pull_manufacturer
from leadbridge.sync.tables import SyncLinkRow
from tests.builders import a_lead, a_partner
from tests.connectors.sandbox_salesforce import add_leads, sandbox_connector
from tests.sync.world import a_world


def test_given_a_lead_taken_in_meanwhile_then_the_page_is_redone_one_by_one_without_doubles(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    with a_world(database, partners=0) as world:
        ids = add_leads(world.home, 30, same_stamp=True)
        connector = sandbox_connector(world.home, world.box.ca_file, name="home")
        (first_change,) = [
            c for page in connector.read_changes("Lead", None) for c in page if c.external_id == ids[0]
        ]
        # A webhook took the first lead in between the page's "which are new?" query and its flush.
        monkeypatch.setattr(pull, "unknown_external_ids", lambda _s, _c, external_ids: set(external_ids))
        with database.transaction() as session:
            take_in(session, connector.lead_from(first_change), stamp=first_change.stamp, actor="webhook")
        stats = pull_manufacturer(database, connector)
        assert stats.read == 30 and stats.created == 29 and stats.quarantined == 0
        with database.transaction() as session:
            per_external = Counter(session.execute(select(LeadRow.external_id)).scalars())
            events = Counter(session.execute(select(LeadEventRow.kind)).scalars())
        assert per_external == Counter(ids)
        assert events == Counter({"receive": 30, "qualify": 30})


def test_given_a_batch_with_an_unqualified_lead_then_its_nurture_write_back_is_queued(
    database: Database,
) -> None:
    projector.attach(database, SyncTargets(manufacturer=frozenset({"test"})))
    warm, cold = a_lead(), a_lead(stage="lead")
    with database.transaction() as session, event_batch(session):
        for lead in (warm, cold):  # new leads are not in the identity map until the batch flushes
            take_in(session, lead, stamp="s1", known_new=True)
    with database.transaction() as session:
        queued = session.execute(select(OutboxRow.lead_id, OutboxRow.kind, OutboxRow.payload)).all()
    assert [(lead_id, kind, payload["event"]) for lead_id, kind, payload in queued] == [
        (cold.id, "lead_status", "nurture")
    ]


def _qualified(database: Database, count: int) -> tuple[str, list[str]]:
    with database.transaction() as session:
        partner = a_partner(session).id
        service = LeadService(session)
        ids = []
        for _ in range(count):
            lead = a_lead()
            service.receive(lead, actor="test", source_system="test", idempotency_key=f"r:{lead.id}")
            service.apply(lead.id, EventKind.QUALIFY, actor="test", idempotency_key=f"q:{lead.id}")
            ids.append(lead.id)
    return partner, ids


def test_given_one_lead_of_a_chunk_clashes_then_the_others_are_routed_and_counted_once(
    database: Database,
) -> None:
    partner, ids = _qualified(database, 12)
    victim, holder = ids[3], ids[7]
    with database.transaction() as session:  # lead 7's log already holds the key lead 3's offer needs
        LeadService(session).apply(
            holder, EventKind.NOTE, actor="test", idempotency_key=f"offer:{victim}:1:{partner}"
        )
    summary = router.route_pending(database, chunk=5)
    assert summary.routed == 11 and summary.offers == 11
    assert [error.split(":")[0] for error in summary.errors] == [victim]
    with database.transaction() as session:
        offered: dict[str, Any] = dict(
            session.execute(select(OfferRow.lead_id, func.count()).group_by(OfferRow.lead_id)).all()
        )
        states = dict(session.execute(select(LeadRow.id, LeadRow.state)).all())
    assert set(offered) == set(ids) - {victim} and set(offered.values()) == {1}
    assert states[victim] == "qualified"  # its own transaction rolled back whole: it waits, untouched
    assert {states[i] for i in ids if i != victim} == {"offered"}


def test_given_many_waiting_leads_then_a_chunked_pass_routes_each_exactly_once(database: Database) -> None:
    _qualified(database, 23)
    summary = router.route_pending(database, chunk=10)
    again = router.route_pending(database, chunk=10)
    assert (summary.routed, summary.offers, summary.errors) == (23, 23, [])
    assert (again.routed, again.offers) == (0, 0)
    with database.transaction() as session:
        assert session.execute(select(func.count()).select_from(OfferRow)).scalar_one() == 23


def test_given_a_link_created_meanwhile_then_remembering_it_updates_instead_of_failing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, (lead_id,) = _qualified(database, 1)
    with database.transaction() as session:  # a partner poll recorded the record first
        links.remember(session, "p1", "REMOTE-1", lead_id, now=utcnow(), seen={"Status": "Open"})
    real_by_remote = links.by_remote
    first = [True]

    def racing_lookup(session: Any, connection: str, remote_ids: list[str]) -> Any:
        if first.pop() if first else False:
            return {}  # the flush's own lookup ran before that poll committed
        return real_by_remote(session, connection, remote_ids)

    monkeypatch.setattr(links, "by_remote", racing_lookup)
    with database.transaction() as session:
        row = links.remember(session, "p1", "REMOTE-1", lead_id, now=utcnow(), written={"Status": "Offered"})
        assert row.seen == {"Status": "Open"} and row.written == {"Status": "Offered"}
    with database.transaction() as session:
        assert session.execute(select(func.count()).select_from(SyncLinkRow)).scalar_one() == 1


def test_given_a_deadline_then_a_pass_stops_between_chunks_and_the_next_goes_on(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _qualified(database, 25)
    ticks = iter([0.0, 0.0, 100.0])  # the clock passes the deadline after the second chunk started
    first = router.route_pending(database, chunk=10, deadline=50.0, monotonic=lambda: next(ticks, 100.0))
    rest = router.route_pending(database, chunk=10, deadline=time.monotonic() + 60)
    assert (first.routed, first.more) == (20, True)
    assert (rest.routed, rest.more) == (5, False)
