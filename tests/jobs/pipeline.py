"""The whole pipeline over sandbox orgs, for the fault test and ``bench/throughput.py``.

``worker_config`` writes the leadbridge.yaml worker processes read; ``FAULTS`` is the fault plan;
``partners_act`` makes every partner answer its offers in its own org; ``audit`` compares the
database with every org and counts what was lost, duplicated or disagrees.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr
from sqlalchemy import select

from leadbridge.core.leads import lead_from_row
from leadbridge.core.store.tables import LeadRow, OfferRow, PartnerRow
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sync.connections import connector_for
from leadbridge.sync.status import status_records
from tests.connectors.sandbox_salesforce import add_leads, update_lead
from tests.sync.world import World

ID_FIELD = "LeadBridge_Id__c"

# 20 % of calls fail, each endpoint its own way: 5xx, 503 "server unavailable" (the stand-in's
# throttling answer: Salesforce has no 429), row-lock errors on writes, plus per-record lock
# failures inside collections, and latency with jitter on every call.
FAULTS: dict[str, dict[str, Any]] = {
    "*": {"error_rate": 0.2, "error": "server_error", "latency": 0.005, "jitter": 0.02},
    "query": {"error_rate": 0.2, "error": "unavailable", "latency": 0.01, "jitter": 0.02},
    "query.more": {"error_rate": 0.2, "error": "unavailable", "latency": 0.01},
    "collections.upsert": {"error_rate": 0.2, "error": "lock", "latency": 0.02, "jitter": 0.03},
    "collections.update": {"error_rate": 0.2, "error": "unavailable", "latency": 0.02, "jitter": 0.03},
    "collections.record": {"error_rate": 0.05, "error": "lock"},
    # logins stay clean: a refused login is an authentication answer, and the expired session
    # below already exercises re-login
    "login.soap": {"error_rate": 0.0},
    "oauth.token": {"error_rate": 0.0},
}
SESSION_EXPIRES_AFTER_CALLS = 40


def orgs(world: World) -> list[SalesforceOrg]:
    return [world.home, *world.partner_orgs.values()]


def inject_faults(world: World, *, seed: int = 7) -> None:
    """Apply ``FAULTS`` to every org and let each session expire once after a few calls."""
    for number, org in enumerate(orgs(world)):
        org.faults.reseed(seed + number)
        for endpoint, rule in FAULTS.items():
            org.faults.set(endpoint, **rule)
        org.faults.expire_session_after(SESSION_EXPIRES_AFTER_CALLS + 7 * number)


def clear_faults(world: World) -> None:
    for org in orgs(world):
        org.faults.clear()


def seed_leads(world: World, count: int, *, per_stamp: int = 250) -> list[str]:
    """``count`` qualified leads in the home org, ``per_stamp`` of them sharing each SystemModstamp."""
    ids: list[str] = []
    while len(ids) < count:
        ids += add_leads(world.home, min(per_stamp, count - len(ids)), same_stamp=True)
    return ids


def worker_config(world: World, directory: Path, *, poll_seconds: int = 2) -> Path:
    """A leadbridge.yaml with every sandbox connection, as an operator would write it."""
    connections: dict[str, Any] = {}
    for name, config in world.settings.connections.items():
        data = {
            key: value.get_secret_value() if isinstance(value, SecretStr) else value
            for key, value in config.model_dump().items()
            if value is not None
        }
        data["poll_seconds"] = poll_seconds
        connections[name] = data
    path = directory / "leadbridge.yaml"
    path.write_text(yaml.safe_dump({"connections": connections}), encoding="utf-8")
    return path


def records_by_lead(org: SalesforceOrg) -> Counter[str]:
    return Counter(r[ID_FIELD] for r in org.records("Lead") if r.get(ID_FIELD))


# What each partner does with the n-th offer it holds, and the lead state that must follow.
ACTIONS = (("Accepted", "accepted"), ("Closed - Converted", "won"), ("Closed - Not Converted", "lost"))


def partners_act(world: World) -> dict[str, str]:
    """Every partner answers every offer it holds in its own org; returns lead id → expected state."""
    expected: dict[str, str] = {}
    for org in world.partner_orgs.values():
        ours = [r for r in org.records("Lead") if r.get(ID_FIELD)]  # the partner's own leads stay
        for number, record in enumerate(sorted(ours, key=lambda r: r["Id"])):
            status, state = ACTIONS[number % len(ACTIONS)]
            update_lead(org, record["Id"], {"Status": status})
            expected[record[ID_FIELD]] = state
    return expected


@dataclass
class Audit:
    leads: int = 0
    lost: int = 0
    duplicated: int = 0
    mismatched: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, kind: str, message: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.examples) < 10:
            self.examples.append(f"{kind}: {message}")


def _same(expected: Any, actual: Any) -> bool:
    if expected is None or actual is None:
        return expected in (None, "") and actual in (None, "")
    if isinstance(expected, bool) or isinstance(actual, bool):
        return bool(expected) == bool(actual)
    if isinstance(expected, int | float) or isinstance(actual, int | float):
        try:
            return abs(float(expected) - float(actual)) < 1e-6
        except (TypeError, ValueError):
            return False

    def text(value: Any) -> str:
        return value.isoformat() if isinstance(value, date) else str(value)

    return text(expected)[:19] == text(actual)[:19]  # datetimes: to the second, either form


def audit(world: World, home_ids: list[str], expected: dict[str, str] | None = None) -> Audit:
    """Compare the database with every org (see the module docstring)."""
    report = Audit()
    home_connector = connector_for(world.settings, "home")
    with world.database.transaction() as session:
        rows = {r.external_id: r for r in session.execute(select(LeadRow)).scalars()}
        report.leads = len(rows)
        offers = list(session.execute(select(OfferRow)).scalars())
        partner_conn = dict(session.execute(select(PartnerRow.id, PartnerRow.connection)).all())
        statuses = status_records(session, [r.id for r in rows.values()])
        wanted = {
            row.id: home_connector.writeback_fields(lead_from_row(row), statuses[row.id])
            for row in rows.values()
        }
    held = {name: records_by_lead(org) for name, org in world.partner_orgs.items()}
    home = {r["Id"]: r for r in world.home.records("Lead")}
    for home_id in home_ids:
        if home_id not in rows:
            report.note("lost", f"home lead {home_id} never reached the database")
    by_id = {row.id: row for row in rows.values()}
    offered_to: dict[str, set[str]] = {}
    for offer in offers:
        offered_to.setdefault(offer.lead_id, set()).add(partner_conn[offer.partner_id])
    for lead_id, row in by_id.items():
        holders = {name for name, counts in held.items() if counts.get(lead_id)}
        if not holders:
            report.note("lost", f"{lead_id} is in no partner org")
        for name in holders:
            if held[name][lead_id] > 1:
                report.note("duplicated", f"{name} holds {lead_id} {held[name][lead_id]} times")
        if holders - offered_to.get(lead_id, set()):
            report.note("duplicated", f"{lead_id} is held by {holders}, offered to {offered_to.get(lead_id)}")
        if expected is not None and expected.get(lead_id) != row.state:
            report.note("mismatched", f"{lead_id} is {row.state}, its partner said {expected.get(lead_id)}")
        record = home.get(row.external_id or "")
        differing = [k for k, v in wanted[lead_id].items() if record is None or not _same(v, record.get(k))]
        if differing:
            got = {k: record.get(k) for k in differing} if record else None
            want = {k: wanted[lead_id][k] for k in differing}
            report.note("mismatched", f"home {row.external_id}: has {got}, database says {want}")
    return report


def wait_for(predicate: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
