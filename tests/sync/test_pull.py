"""Pulls stop at the quota with the checkpoint of every committed page saved, and resume from it."""

from __future__ import annotations

from sqlalchemy import select

from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import QuarantineRow
from leadbridge.sync import checkpoints
from leadbridge.sync.pull import pull_manufacturer
from tests.connectors.sandbox_salesforce import add_leads, sandbox_connector, update_lead
from tests.sync.world import a_world


def test_given_the_quota_runs_out_mid_pull_then_the_next_pull_resumes_without_loss_or_doubles(
    database: Database,
) -> None:
    with a_world(database, partners=0) as world:
        ids = add_leads(world.home, 450, same_stamp=True)  # three pages of 200 sharing one stamp
        connector = sandbox_connector(world.home, world.box.ca_file, name="home", page_size=200)
        quota = world.home.faults.quota
        quota.set(quota.used + 2)  # the first query and one query_more pass
        first = pull_manufacturer(database, connector)
        assert first.stopped == "quota" and first.created == 400
        with database.transaction() as session:
            saved = checkpoints.load(session, "home", "Lead")
        assert saved is not None and len(saved.recent) == 400
        quota.set(None)
        second = pull_manufacturer(database, sandbox_connector(world.home, world.box.ca_file, name="home"))
        assert second.stopped is None and second.created == 50 and second.updated == 0
        assert sorted(lead.external_id for lead in world.leads()) == sorted(ids)


def test_given_an_unmappable_record_then_it_is_quarantined_and_taken_in_once_fixed(
    database: Database,
) -> None:
    with a_world(database, partners=0) as world:
        (bad,) = add_leads(world.home, 1, same_stamp=False, Country="Atlantis")
        add_leads(world.home, 1, same_stamp=False)
        connector = sandbox_connector(world.home, world.box.ca_file, name="home")
        first = pull_manufacturer(database, connector)
        assert (first.created, first.quarantined) == (1, 1)
        with database.transaction() as session:
            (row,) = session.execute(select(QuarantineRow)).scalars()
            assert row.external_id == bad and "Country" in row.reason
        update_lead(world.home, bad, {"Country": "Germany"})
        second = pull_manufacturer(database, connector)
        assert (second.created, second.quarantined) == (1, 0)
        with database.transaction() as session:
            assert session.execute(select(QuarantineRow)).scalar_one().resolved_at is not None
