"""One person, one lead: duplicates by e-mail, phone or company + postal code are not routed."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.core.dedup import Dedup, find_duplicate, normal_phone, settle_duplicates, split_duplicate
from leadbridge.core.intake import take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.offers import OfferService
from leadbridge.core.policy import default_policy
from leadbridge.core.router import route_pending
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow
from tests.builders import a_lead, a_partner

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def _in(database: Database, **fields: object) -> str:
    lead = a_lead(**fields)
    with database.transaction() as session:
        take_in(session, lead)
    return lead.id


def _state(database: Database, lead_id: str) -> str:
    with database.transaction() as session:
        return LeadService(session).get_row(lead_id).state


def test_phone_numbers_compare_in_e164() -> None:
    assert normal_phone("089 1234567", "DE") == normal_phone("+49 (89) 123-4567", "AT") == "+49891234567"
    assert normal_phone("not a phone", "DE") is None


def test_given_a_held_lead_when_the_same_person_or_account_comes_again_then_it_is_attached_not_routed(
    database: Database,
) -> None:
    held = _in(database, email="erika@muster.example", phone="089 1234567", company="Muster Bau GmbH")
    with database.transaction() as session:
        partner = a_partner(session).id
        LeadService(session).apply(held, EventKind.ROUTE, actor="t", idempotency_key="r")
        offer, _ = OfferService(session).create(
            held, partner, round=1, mode="assign", deadline=None, decision={}
        )
        OfferService(session).accept(offer.id, partner_id=partner, actor="p")
    lost = _in(database, email="old@muster.example", company="Old Customer AG")
    with database.transaction() as session:
        LeadService(session).apply(lost, EventKind.REJECT, actor="t", idempotency_key="x")
    by_email = _in(database, source_connection="list2", email=" ERIKA@muster.example ", company="Other")
    by_phone = _in(database, source_connection="list2", email="e2@other.example", phone="+49 89 123 4567",
                   company="Something Else")  # fmt: skip
    by_company = _in(database, source_connection="list2", email="e3@other.example", company="Muster-Bau")
    other_town = _in(database, source_connection="list2", email="e4@other.example", company="Muster-Bau",
                     address={"postal_code": "10115", "country": "DE"})  # fmt: skip
    again_lost = _in(database, source_connection="list2", email="old@muster.example", company="New Co")
    ids = [by_email, by_phone, by_company, other_town, again_lost]
    assert {_state(database, i) for i in ids} == {"qualified"}

    with database.transaction() as session:
        assert settle_duplicates(session, ids, Dedup(enabled=False), NOW) == ids
        left = settle_duplicates(session, ids, Dedup(company_postal=True), NOW)
    assert left == [other_town, again_lost]
    with database.transaction() as session:
        service = LeadService(session)
        matches = {
            i: (service.events(i)[-1].payload["duplicate_of"], service.events(i)[-1].payload["match"])
            for i in (by_email, by_phone, by_company)
        }
        notes = [e.payload["duplicate"] for e in service.events(held) if e.kind == "note"]
    assert matches == {by_email: (held, "email"), by_phone: (held, "phone"), by_company: (held, "company")}
    assert sorted(notes) == sorted([by_email, by_phone, by_company])

    with database.transaction() as session:
        assert split_duplicate(session, by_company, actor="admin:x", now=NOW) == held
    assert _state(database, by_company) == "qualified"
    with database.transaction() as session:
        assert settle_duplicates(session, [by_company], Dedup(company_postal=True), NOW) == [
            by_company
        ]  # split: not again


def test_the_router_skips_duplicates(database: Database) -> None:
    first = _in(database, email="same@person.example")
    second = _in(database, source_connection="list2", email="same@person.example")
    with database.transaction() as session:
        a_partner(session)
    route_pending(database, policy=default_policy(), clock=lambda: NOW)
    assert _state(database, second) == "rejected"
    assert _state(database, first) != "rejected"


def test_possible_duplicates_are_looser_than_the_rules_and_skip_erased_leads(database: Database) -> None:
    from leadbridge.core.dedup import Match, possible_duplicates
    from leadbridge.core.privacy.config import Erasure
    from leadbridge.sync.erasure import erase
    from leadbridge.sync.projector import SyncTargets

    me = _in(database, email="sun@example.com", phone="+49 89 1234567", company="Sonnenschein Solar GmbH")
    closed_same_mail = _in(database, email="sun@example.com", company="Other One", stage="lead")
    same_phone = _in(database, email="a@example.com", phone="089 1234567", company="Other Two")
    alike_company = _in(database, email="b@example.com", company="Sonnenschein-Solar AG")
    _in(database, email="c@example.com", company="Other Three")  # nothing in common
    _in(database, email="d@example.com", company="Sonnenschein Solar GmbH",
        address={"postal_code": "10115", "city": "Berlin", "country": "DE"})  # fmt: skip
    erased = _in(database, email="sun@example.com", company="Gone GmbH")
    erase(database, erased, actor="dpo", reason=None, rules=Erasure(), targets=SyncTargets(), now=NOW)
    with database.transaction() as session:
        row = LeadService(session).get_row(me)
        found = possible_duplicates(session, row)
    assert found == [
        Match(closed_same_mail, "email"), Match(same_phone, "phone"), Match(alike_company, "company"),
    ]  # fmt: skip


def _one_by_one(session: Session, ids: list[str], rules: Dedup) -> dict[str, tuple[str, str]]:
    """The rule asked lead by lead (``find_duplicate`` against the database, each rejection stored
    before the next lead is asked): duplicate id → (original, match)."""
    service = LeadService(session, lambda: NOW)
    rows = session.execute(
        select(LeadRow).where(LeadRow.id.in_(ids), LeadRow.state == "qualified").order_by(LeadRow.created_at)
    ).scalars()
    found: dict[str, tuple[str, str]] = {}
    for row in list(rows):
        match = find_duplicate(session, row, rules)
        if match is not None:
            service.apply(row.id, EventKind.REJECT, actor="t", idempotency_key=f"ref:{row.id}")
            found[row.id] = (match.original, match.match)
    return found


@pytest.mark.parametrize("seed", range(4))
def test_a_pass_rejects_the_same_duplicates_as_asking_lead_by_lead(database: Database, seed: int) -> None:
    """Shared e-mails, phones written differently and alike companies over three postal codes,
    some leads closed: the pass's few queries find what ``find_duplicate`` finds for each lead in
    turn, the leads rejected earlier in the pass no longer counting."""
    rng = random.Random(seed)
    phones = ["089 1234567", "+49 89 1234567", "030 555123", "+43 1 5551234", "0171 2345678", None]
    companies = ["Muster Bau GmbH", "Muster-Bau", "Sonne Solar AG", "Sonne Solar 2 AG", "Kälte KG"]
    ids = []
    for n in range(45):
        postal, country = rng.choice([("80331", "DE"), ("10115", "DE"), ("1010", "AT")])
        ids.append(
            _in(
                database,
                email=rng.choice([f"p{rng.randrange(8)}@same.example", f"only{n}@x.example"]),
                phone=rng.choice(phones),
                company=rng.choice(companies),
                address={"postal_code": postal, "country": country},
            )
        )
    with database.transaction() as session:
        for lead_id in rng.sample(ids, 10):  # closed: no longer anybody's duplicate
            LeadService(session).apply(lead_id, EventKind.REJECT, actor="t", idempotency_key=f"x:{lead_id}")
    for rules in (Dedup(), Dedup(company_postal=True), Dedup(email=False), Dedup(phone=False)):
        with database.transaction() as session:
            reference = session.begin_nested()
            expected = _one_by_one(session, ids, rules)
            reference.rollback()
            left = settle_duplicates(session, ids, rules, NOW)
            service = LeadService(session)
            got = {
                i: (str(e.payload["duplicate_of"]), str(e.payload["match"]))
                for i in ids
                if i not in left
                for e in service.events(i)[-1:]
            }
            assert got == expected and expected  # some duplicates each way
            session.rollback()
