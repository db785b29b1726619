"""Erasure end to end over sandbox orgs: a lead held by a Salesforce partner org, one held by a
HubSpot partner portal and one held by an inbox partner are erased; each recipient is told through
the outbox, nothing personal is left in any table or in the SQLite file, the timeline proves it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.inbox.views import held_leads
from leadbridge.core.event_text import describe
from leadbridge.core.leads import LeadService
from leadbridge.core.offers import OfferService
from leadbridge.core.privacy.config import Erasure
from leadbridge.core.privacy.personal import ERASED_MARK
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.ports import WriteItem, WriteResult
from leadbridge.sync.deliver import flush
from leadbridge.sync.erasure import erase
from leadbridge.sync.writers import PartnerWriter
from tests.connectors.sandbox_salesforce import update_lead
from tests.privacy.world import PrivacyWorld, a_privacy_world, add_person

PEOPLE = {
    "sf.person@example.com": "psf",
    "hs.person@example.com": "phs",
    "inbox.person@example.com": "inbox",
}
PHONE = "+49 89 1234567"
PROOF = {  # what each recipient's confirmation reads like on the timeline
    "psf": "psf confirmed: record deleted",
    "phs": "phs confirmed: record anonymised",
    "inbox": "told in the inbox: erased at the data subject's request",
}


def scan_tables(database: Database, needles: list[str]) -> list[str]:
    """Every (table.column) of every table in the database (reflected, so tables added later are
    scanned too) whose text holds one of ``needles``."""
    found = []
    engine = database.engine
    tables = sa.MetaData()
    tables.reflect(bind=engine)
    with engine.connect() as connection:
        for table in tables.sorted_tables:
            for column in table.columns:
                values = connection.execute(select(sa.cast(column, sa.Text))).scalars()
                for value in values:
                    if value and any(needle.lower() in value.lower() for needle in needles):
                        found.append(f"{table.name}.{column.name}: {value[:120]}")
    return found


def scan_files(database: Database, needles: list[str]) -> list[str]:
    """The SQLite file and its write-ahead log, byte by byte."""
    path = Path(database.engine.url.database or "")
    found = []
    for candidate in (path, path.with_name(path.name + "-wal")):
        if candidate.exists():
            data = candidate.read_bytes()
            found += [f"{candidate.name}: {n}" for n in needles if n.encode() in data]
    return found


def held_by_each(world: PrivacyWorld) -> dict[str, str]:
    """Route each person to its partner and have that partner accept: e-mail → lead id."""
    world.plan = dict(PEOPLE)
    for email in PEOPLE:
        add_person(world.home, email, Phone=PHONE, FirstName="Erika", LastName=f"Muster-{email[:2]}")
    world.cycle()
    by_email = {str(row.email): row.id for row in world.leads().values()}
    sf_copy = next(r for r in world.sf_partner.records("Lead") if r.get("LeadBridge_Id__c"))
    update_lead(world.sf_partner, sf_copy["Id"], {"Status": "Accepted"})
    [hs_copy] = [r for r in world.hs_partner.store("contacts").live() if r.properties.get("leadbridge_id")]
    world.hs_partner.edit_as_user("contacts", hs_copy.id, {"hs_lead_status": "CONNECTED"})
    with world.database.transaction() as session:
        offers = OfferService(session)
        [offer] = offers.pending_for_lead(by_email["inbox.person@example.com"])
        offers.accept(offer.id, partner_id=world.partner_ids["inbox"], actor="inbox-user")
    world.cycle()
    return by_email


def test_given_a_lead_held_in_salesforce_hubspot_and_the_inbox_when_erased_then_nothing_personal_is_left(
    database: Database,
) -> None:
    with a_privacy_world(database) as world:
        ids = held_by_each(world)
        leads = world.leads()
        assert {leads[ids[e]].state for e in PEOPLE} <= {"accepted", "working"}
        sf_before = {
            r["LeadBridge_Id__c"]: r for r in world.sf_partner.records("Lead") if r.get("LeadBridge_Id__c")
        }
        assert sf_before[ids["sf.person@example.com"]]["Email"] == "sf.person@example.com"  # revealed
        hs_before = {r.properties.get("leadbridge_id"): r for r in world.hs_partner.store("contacts").live()}
        assert hs_before[ids["hs.person@example.com"]].properties["email"] == "hs.person@example.com"
        needles = [*PEOPLE, PHONE, "Muster-sf", "Muster-hs", "Muster-in"]
        assert scan_tables(database, needles), "the scan finds personal data before the erasure"
        if database.engine.dialect.name == "sqlite":
            assert scan_files(database, needles), "and so does the file scan"

        rules = Erasure(default="anonymise", connections={"psf": "delete"}, home=True)
        now = datetime.now(UTC)
        reports = [
            erase(
                database,
                ids[e],
                actor="admin:dpo",
                reason="Art. 17 request",
                rules=rules,
                targets=world.targets,
                now=now,
            )
            for e in PEOPLE
        ]
        told = {r.lead_id: {(x.target, x.how) for x in r.recipients} for r in reports}
        assert told[ids["sf.person@example.com"]] == {("home", "anonymise"), ("psf", "delete")}
        assert told[ids["hs.person@example.com"]] == {("home", "anonymise"), ("phs", "anonymise")}
        assert told[ids["inbox.person@example.com"]] == {("home", "anonymise"), ("inbox", "inbox")}
        assert all(r.database_file.startswith(database.engine.dialect.name) for r in reports)

        again = erase(database, ids["sf.person@example.com"], actor="admin", reason=None, rules=rules,
                      targets=world.targets, now=now)  # fmt: skip
        assert (
            again.already
            and {(x.target, x.how) for x in again.recipients} == told[ids["sf.person@example.com"]]
        )

        world.cycle()  # the outbox tells every CRM; a pull of the anonymised home record changes nothing

        sf_after = {r["LeadBridge_Id__c"]: r for r in world.sf_partner.records("Lead", include_deleted=True)
                    if r.get("LeadBridge_Id__c")}  # fmt: skip
        gone = sf_after[ids["sf.person@example.com"]]
        assert gone["IsDeleted"] and gone["Email"] is None and gone["Phone"] is None
        assert gone["LastName"] == ERASED_MARK and gone["FirstName"] is None  # the recycle bin holds nothing
        hs_after = (
            world.hs_partner.store("contacts").get(hs_before[ids["hs.person@example.com"]].id).properties
        )
        assert not hs_after.get("email") and not hs_after.get("phone") and not hs_after.get("firstname")
        assert hs_after["lastname"] == ERASED_MARK
        home_after = [r for r in world.home.records("Lead") if r["Email"] in PEOPLE]
        assert home_after == []  # the manufacturer's records were anonymised too
        with database.transaction() as session:
            lines = held_leads(session, world.partner_ids["inbox"])
        assert [(line.state, line.label) for line in lines] == [("erased", ERASED_MARK)]

        assert scan_tables(database, needles) == []
        if database.engine.dialect.name == "sqlite":
            assert scan_files(database, needles) == []

        with database.transaction() as session:
            for email, connection in PEOPLE.items():
                events = LeadService(session).events(ids[email])
                notices = {(e.payload["target"], e.partner_id) for e in events if e.kind == "erasure_notice"}
                partner = world.partner_ids[connection]
                assert notices == {(connection, partner), ("home", None)}, (email, notices)
                assert events[-1].kind == "erasure_notice" and "erase" in [e.kind for e in events]
                said = [describe(e, {}) for e in events if e.kind in ("erase", "erasure_notice")]
                assert said[0].startswith("Personal data erased (Art. 17 request); telling"), said
                assert "home confirmed: record anonymised" in said, said
                assert PROOF[connection] in " | ".join(said), said
                assert all(
                    e.payload.get("erased") for e in events if e.kind not in ("erase", "erasure_notice")
                )
            rows = session.execute(select(OutboxRow).where(OutboxRow.kind == "erase")).scalars().all()
            # home ×3, the Salesforce and the HubSpot partner; the inbox reads our database (told at once)
            assert len(rows) == 5 and {row.status for row in rows} == {"sent"}
            assert all(set(row.payload) == {"remote_id", "how", "partner_id"} for row in rows)


class ErasingMidFlight:
    """A partner writer whose lead is erased while its write is on the wire."""

    def __init__(self, inner: PartnerWriter, erase_now: Callable[[], object]) -> None:
        self.inner, self.erase_now = inner, erase_now

    def build(self, session: Session, groups: dict) -> list:
        return self.inner.build(session, groups)

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        results = self.inner.send(stream, items)
        self.erase_now()
        return results

    def record(self, session: Session, written: list, now: datetime) -> None:
        self.inner.record(session, written, now)


def test_given_a_copy_written_while_its_lead_is_erased_then_that_copy_is_erased_too(
    database: Database,
) -> None:
    with a_privacy_world(database) as world:
        world.plan = {"late@example.com": "psf"}
        add_person(world.home, "late@example.com")
        world.cycle()
        [lead_id] = world.leads()
        [copy] = [r for r in world.sf_partner.records("Lead") if r.get("LeadBridge_Id__c")]
        update_lead(world.sf_partner, copy["Id"], {"Status": "Accepted"})
        engine = world.engine
        engine._pull_partner("psf")  # the acceptance queues the revealed copy
        rules = Erasure(default="delete")
        writer = ErasingMidFlight(
            PartnerWriter(engine.connectors["psf"]),
            lambda: erase(
                database,
                lead_id,
                actor="dpo",
                reason=None,
                rules=rules,
                targets=world.targets,
                now=datetime.now(UTC),
            ),
        )
        stats = flush(database, "psf", writer, worker="t", clock=lambda: datetime.now(UTC))
        assert stats.written == 1
        assert (
            world.sf_partner.store.get(world.sf_partner.store.object("Lead"), copy["Id"])["Email"]
            == "late@example.com"
        )
        assert scan_tables(database, ["late@example.com"]) == []  # the link did not keep what was written
        world.cycle()
        [gone] = [r for r in world.sf_partner.records("Lead", include_deleted=True) if r["Id"] == copy["Id"]]
        assert gone["Email"] is None and gone["LastName"] == ERASED_MARK
