"""The import fast path: driver-level inserts bind like SQLAlchemy, rows parse like csv.DictReader,
a re-run reads no lead data, and a changed row among unchanged ones is still a partial update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from leadbridge.connectors.csvstream import CsvStream
from leadbridge.core.store.bulk import insert_rows
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import IntakeRow, LeadRow
from leadbridge.sync.importing import import_leads

HEADER = "external_id,email,first_name,company,postal_code,city,country,stage"


def test_insert_rows_stores_what_an_orm_insert_stores_and_refuses_a_taken_key(database: Database) -> None:
    moment = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    rows = [
        {
            "connection": "csv",
            "external_id": f"X-{n}",
            "stamp": f"s{n}",
            "lead_id": None,
            "received_at": moment,  # the same object on every row: processed once
        }
        for n in range(3)
    ]
    table = cast(Table, IntakeRow.__table__)
    with database.transaction() as session:
        insert_rows(session.connection(), table, rows)
    with database.transaction() as session:
        stored = session.execute(select(IntakeRow).order_by(IntakeRow.external_id)).scalars().all()
    assert [(r.external_id, r.stamp) for r in stored] == [("X-0", "s0"), ("X-1", "s1"), ("X-2", "s2")]
    assert {r.received_at for r in stored} == {moment.astimezone(UTC)}  # aware UTC on both backends
    with pytest.raises(IntegrityError), database.transaction() as session:
        insert_rows(session.connection(), table, rows[:1])


def test_rows_are_read_by_the_normalised_header_short_long_and_blank_lines_as_dictreader(
    tmp_path: Path,
) -> None:
    path = tmp_path / "odd.csv"
    path.write_text(
        " External_ID ,EMAIL,City\nA-1, a@b.example ,\n\nA-2,c@d.example\nA-3,e@f.example,Wien,extra\n",
        encoding="utf-8",
    )
    rows = list(CsvStream(path).rows())
    assert rows == [
        (2, {"external_id": "A-1", "email": "a@b.example", "city": None}),
        (4, {"external_id": "A-2", "email": "c@d.example", "city": None}),
        (5, {"external_id": "A-3", "email": "e@f.example", "city": "Wien"}),
    ]


def test_given_an_imported_file_when_one_row_changed_then_only_it_is_updated_partially(
    database: Database, tmp_path: Path
) -> None:
    lines = [f"F-{n},f{n}@firma.example,Fritz,Firma {n} GmbH,8033{n % 10},München,DE,mql" for n in range(50)]
    path = tmp_path / "leads.csv"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert import_leads(database, path).imported == {"created": 50, "updated": 0, "unchanged": 0}
    assert import_leads(database, path).imported == {"created": 0, "updated": 0, "unchanged": 50}
    # row 7 changes its company and leaves its first name empty: the stored first name is kept
    lines[7] = "F-7,f7@firma.example,,Neue Firma AG,80337,München,DE,mql"
    path.write_text(HEADER + "\n" + "\n".join(lines) + "\n", encoding="utf-8")
    assert import_leads(database, path).imported == {"created": 0, "updated": 1, "unchanged": 49}
    with database.transaction() as session:
        row = session.execute(select(LeadRow).where(LeadRow.external_id == "F-7")).scalar_one()
        versions = session.execute(select(IntakeRow).where(IntakeRow.external_id == "F-7")).all()
    assert row.company == "Neue Firma AG" and row.data["first_name"] == "Fritz"
    assert len(versions) == 2


def test_a_closed_lead_taken_in_bulk_gets_the_rows_the_event_path_writes(database: Database) -> None:
    from leadbridge.core.history import History, record_history
    from leadbridge.core.intake import take_in
    from leadbridge.core.leads import LeadService
    from leadbridge.core.model import Lead
    from leadbridge.core.partner import Partner
    from leadbridge.core.partners import PartnerRepository
    from leadbridge.core.store.tables import LeadEventRow, OfferRow
    from leadbridge.sync.bulk_intake import Incoming, take_in_chunk

    with database.transaction() as session:
        partner_id = PartnerRepository(session).upsert(Partner(external_id="P-1", name="Alpha"))[0].id

    def shape(lead_id: str) -> tuple[object, ...]:
        with database.transaction() as session:
            lead = session.get(LeadRow, lead_id)
            assert lead is not None
            events = session.execute(
                select(LeadEventRow).where(LeadEventRow.lead_id == lead_id).order_by(LeadEventRow.seq)
            ).scalars()
            offer = session.execute(select(OfferRow).where(OfferRow.lead_id == lead_id)).scalar_one()
            return (
                (lead.state, lead.partner_id, lead.round, lead.version),
                (lead.created_at, lead.updated_at, lead.state_changed_at),
                [
                    (
                        e.seq, e.kind, e.from_state, e.to_state, e.actor, e.source_system, e.occurred_at,
                        e.partner_id, e.offer_id == offer.id if e.offer_id else None,
                        e.idempotency_key.replace(lead_id, "<id>").split(":")[0], e.payload,
                    )
                    for e in events
                ],
                (offer.partner_id, offer.round, offer.mode, offer.status, offer.offered_at, offer.decided_at),
            )  # fmt: skip

    for stage, outcome in (("lead", "won"), ("sql", "lost")):
        past = History.model_validate(
            {
                "partner": "P-1",
                "outcome": outcome,
                "offered_at": "2024-01-02",
                "accepted_at": "2024-01-03T10:00:00Z",
                "closed_at": "2024-03-01",
                "amount": "1200" if outcome == "won" else None,
                "lost_reason": "price" if outcome == "lost" else None,
            }
        )

        def lead(external_id: str, stage: str = stage, past: History = past) -> Lead:
            return Lead(
                source_connection="csv",
                external_id=external_id,
                email="a@b.example",
                stage=stage,
                created_at=past.started_at,
            )

        with database.transaction() as session:  # the event path (take_in, then record_history)
            at = past.started_at
            checked = take_in(
                session, lead(f"E-{stage}"), actor="t", clock=lambda at=at: at, marks={"history": True}
            )
            row = LeadService(session).get_row(checked.lead_id, for_update=True)
            record_history(session, row, past, partner_id)
        with database.transaction() as session:
            (bulk,) = take_in_chunk(session, [Incoming(lead(f"B-{stage}"), past, partner_id)], actor="t")
        assert shape(checked.lead_id) == shape(bulk.lead_id)
