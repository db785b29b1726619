"""Quarantine: a record that cannot be mapped is kept with its reason; fixing the mapping and
re-running picks it up."""

from __future__ import annotations

from typing import Any

import pytest

from leadbridge.core.store.database import Database
from leadbridge.mappings.apply import Plan
from leadbridge.mappings.loader import parse_mapping
from leadbridge.mappings.quarantine import MemoryQuarantine, QuarantineStore, SqlQuarantine, quarantine, rerun

MAPPING = """\
system: salesforce
object: Lead
role: manufacturer
key: Id
fields:
  - {canonical: last_name, in: LastName, required: true}
  - canonical: stage
    in: Rating
    transform:
      value_map:
        values: {Hot: sql, Warm: mql, Cold: lead}
"""
FIXED = MAPPING.replace("Cold: lead}", "Cold: lead, Lukewarm: mql}")
RECORDS: list[dict[str, Any]] = [
    {"Id": "A", "LastName": "Muster", "Rating": "Hot"},
    {"Id": "B", "LastName": "Beispiel", "Rating": "Lukewarm"},
    {"LastName": "Ohne Id", "Rating": "Lukewarm"},
]


def run_scenario(store: QuarantineStore) -> None:
    plan = Plan(parse_mapping(MAPPING, "m.yaml"))
    mapped, failures = plan.map_batch(RECORDS, "home")
    assert [m.lead.external_id for m in mapped] == ["A"]
    assert quarantine(store, "home", failures) == 2
    # Seeing the same bad record again updates it rather than listing it twice.
    quarantine(store, "home", plan.map_batch(RECORDS[1:2], "home")[1])
    listed = {q.external_id: q for q in store.open("home")}
    assert set(listed) == {"B", next(k for k in listed if k.startswith("sha1:"))}
    assert listed["B"].attempts == 2 and "Rating: unmapped value 'Lukewarm'" in listed["B"].reason
    assert listed["B"].record == RECORDS[1]
    assert store.open("other") == []

    # Re-running with the unchanged mapping recovers nothing and keeps the reasons.
    recovered, still = rerun(plan, store, "home")
    assert recovered == [] and len(still) == 2

    fixed = Plan(parse_mapping(FIXED, "m.yaml"))
    recovered, still = rerun(fixed, store, "home")
    assert sorted(m.lead.last_name or "" for m in recovered) == ["Beispiel", "Ohne Id"]
    assert all(m.lead.stage == "mql" for m in recovered)
    assert still == [] and store.open() == []


def test_quarantine_then_recovery_in_memory() -> None:
    run_scenario(MemoryQuarantine())


def test_quarantine_then_recovery_in_the_database(database: Database) -> None:
    with database.transaction() as session:
        run_scenario(SqlQuarantine(session))
    with database.transaction() as session:
        assert SqlQuarantine(session).open() == []


def test_a_failed_record_stays_open_across_transactions(database: Database) -> None:
    plan = Plan(parse_mapping(MAPPING, "m.yaml"))
    with database.transaction() as session:
        quarantine(SqlQuarantine(session), "home", plan.map_batch(RECORDS[1:2], "home")[1])
    with database.transaction() as session:
        [item] = SqlQuarantine(session).open("home")
    assert (item.external_id, item.attempts) == ("B", 1)
    assert item.created_at.tzinfo is not None


@pytest.mark.parametrize("bad", [{"Id": "C", "Rating": "Hot"}, {"Id": "D", "LastName": "X", "Rating": 5}])
def test_reasons_name_the_remote_field(bad: dict[str, Any]) -> None:
    store = MemoryQuarantine()
    plan = Plan(parse_mapping(MAPPING, "m.yaml"))
    quarantine(store, "home", plan.map_batch([bad], "home")[1])
    [item] = store.open()
    assert item.reason.split(":")[0] in {"LastName", "Rating"}
