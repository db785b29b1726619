"""Events queue their outbox rows in the same transaction, for registered targets only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.offers import OfferService
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.sync import projector
from leadbridge.sync.importing import import_leads
from leadbridge.sync.projector import SyncTargets
from tests.builders import a_lead, a_partner


@pytest.fixture
def targets(database: Database) -> None:
    projector.attach(database, SyncTargets(manufacturer=frozenset({"home"}), partner=frozenset({"p-sf"})))


def rows(database: Database) -> list[tuple[str, str]]:
    with database.transaction() as session:
        found = session.execute(select(OutboxRow).order_by(OutboxRow.id)).scalars()
        return [(r.target, r.kind) for r in found]


def routed_lead(database: Database, source: str = "home") -> tuple[str, str]:
    with database.transaction() as session:
        partner = a_partner(session, connection="p-sf")
        lead = a_lead(source_connection=source)
        service = LeadService(session)
        service.receive(lead, actor="t", source_system=source, idempotency_key=f"r:{lead.id}")
        service.apply(lead.id, EventKind.QUALIFY, actor="t", idempotency_key=f"q:{lead.id}")
        service.apply(lead.id, EventKind.ROUTE, actor="t", idempotency_key=f"rt:{lead.id}")
        OfferService(session).create(lead.id, partner.id, round=1, mode="assign", deadline=None, decision={})
    return lead.id, partner.id


def test_given_an_offer_then_write_back_and_partner_push_are_queued_with_it(
    database: Database, targets: None
) -> None:
    routed_lead(database)
    assert rows(database) == [
        ("home", "lead_status"),  # route
        ("home", "lead_status"),  # offer
        ("p-sf", "partner_lead"),  # offer pushed to the partner's CRM
    ]


def test_given_a_replayed_event_then_nothing_more_is_queued(database: Database, targets: None) -> None:
    lead_id, partner_id = routed_lead(database)
    before = rows(database)
    with database.transaction() as session:
        OfferService(session).create(lead_id, partner_id, round=1, mode="assign", deadline=None, decision={})
    assert rows(database) == before


def test_given_a_rolled_back_transaction_then_no_row_survives(database: Database, targets: None) -> None:
    with pytest.raises(RuntimeError), database.transaction() as session:
        lead = a_lead(source_connection="home")
        LeadService(session).receive(lead, actor="t", source_system="home", idempotency_key="x")
        LeadService(session).apply(lead.id, EventKind.NURTURE, actor="t", idempotency_key="n")
        session.flush()
        raise RuntimeError("crash before commit")
    assert rows(database) == []


def test_given_unregistered_connections_then_nothing_is_queued(database: Database, targets: None) -> None:
    routed_lead(database, source="csv")
    assert rows(database) == [("p-sf", "partner_lead")]
    projector.attach(database, SyncTargets())
    routed_lead(database)
    assert rows(database) == [("p-sf", "partner_lead")]


def test_given_imported_history_then_nothing_is_queued_for_any_crm(
    database: Database, targets: None, tmp_path: Path
) -> None:
    with database.transaction() as session:
        partner = a_partner(session, connection="p-sf")
    path = tmp_path / "history.csv"
    path.write_text(
        "external_id,email,country,stage,outcome,partner,accepted_at,closed_at\n"
        f"H-1,h1@home.example,DE,sql,won,{partner.id},2024-01-02,2024-02-01\n"
        f"H-2,h2@home.example,DE,lead,lost,{partner.id},,2024-03-01\n"
    )
    summary = import_leads(database, path, connection="home")
    assert summary.imported["created"] == 2
    assert rows(database) == []  # the home CRM and the partner's CRM already know their past
