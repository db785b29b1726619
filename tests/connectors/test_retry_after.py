"""Retry-After and the one policy through the real clients: Salesforce (simple-salesforce raises its
own exceptions, without headers) and HubSpot (hubspot-api-client), in seconds and as an HTTP-date;
a login inside a retried call is tried once; a Retry-After longer than the budget reschedules the
outbox row instead of holding the worker."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import responses
from sqlalchemy.orm import Session

from leadbridge.connectors.salesforce import SalesforceConnector, connect
from leadbridge.core.errors import RetriableError
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import OutboxRow
from leadbridge.ports import WriteItem, WriteResult
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.hubspot.search import SearchLimits
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from leadbridge.sync import outbox
from leadbridge.sync.deliver import GroupKey, Planned, flush
from leadbridge.sync.outbox import OutboxSettings, OutboxStatus
from tests.connectors.sandbox_hubspot import FakeTime, HubSpotHarness, add_contacts
from tests.connectors.sandbox_salesforce import add_leads, org_config

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
UNAVAILABLE = [{"errorCode": "SERVER_UNAVAILABLE", "message": "Salesforce is down for maintenance"}]


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    with Sandbox.plan(partners=0, leads=0, seed=11, services=["salesforce", "hubspot"]) as running:
        yield running


@pytest.fixture
def org(box: Sandbox) -> Iterator[SalesforceOrg]:
    found = box.salesforce.org("manufacturer")
    found.faults.clear()
    found.counters.reset()
    yield found
    found.faults.clear()


@pytest.fixture
def harness(box: Sandbox) -> Iterator[HubSpotHarness]:
    portal = box.hubspot.portal("manufacturer")
    portal.faults.clear()
    portal.counters.reset()
    portal.limits.configure(ten_secondly=190, daily=625_000)
    portal.limits.retry_after = None
    yield HubSpotHarness(portal, box.hubspot.base_url(), box.ca_file)
    portal.limits.retry_after = None
    portal.search_limits = SearchLimits()


def sf_connector(box: Sandbox, org: SalesforceOrg, time: FakeTime, **policy: Any) -> SalesforceConnector:
    retry = RetryPolicy(sleep=time.sleep, clock=time.monotonic, rng=random.Random(2), **policy)
    return connect(org_config(org, box.ca_file, name="home"), retry=retry)


def http_date(seconds_from_now: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds_from_now), usegmt=True)


def unavailable_once(
    rsps: responses.RequestsMock, url: re.Pattern[str], method: str, retry_after: str
) -> None:
    """The first matching request gets a 503 with ``Retry-After``; later ones reach the sandbox."""
    rsps.add(method, url, json=UNAVAILABLE, status=503, headers={"Retry-After": retry_after})
    rsps.add(responses.PassthroughResponse(method, url))


# -- Salesforce: simple-salesforce drops the headers; the connector keeps Retry-After -------------
@pytest.mark.parametrize(("header", "low", "high"), [("7", 7.0, 7.5), ("date", 28.0, 30.5)])
def test_given_a_salesforce_503_with_retry_after_when_reading_then_the_wait_honours_it(
    box: Sandbox, org: SalesforceOrg, header: str, low: float, high: float
) -> None:
    add_leads(org, 3, same_stamp=False)
    time = FakeTime()
    connector = sf_connector(box, org, time)
    value = http_date(30) if header == "date" else header
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add_passthru(org.instance_url)
        unavailable_once(rsps, re.compile(r".*/services/data/v[\d.]+/queryAll/?.*"), "GET", value)
        pages = list(connector.client.query_pages("SELECT Id FROM Lead", include_deleted=True))
    assert sum(len(page) for page in pages) >= 3
    [wait] = time.sleeps
    assert low <= wait <= high  # the header's delay (a date: to the second), plus the policy's spread


def test_given_a_salesforce_org_that_is_down_when_a_call_logs_in_then_the_login_is_not_retried_inside_it(
    box: Sandbox, org: SalesforceOrg
) -> None:
    time = FakeTime()
    connector = sf_connector(box, org, time, max_attempts=3)
    org.faults.set("login.soap", error_rate=1.0, error="unavailable")
    with pytest.raises(RetriableError, match="could not log in"):
        connector.client.limits()
    logins = org.counters.snapshot().get("login.soap", 0)
    assert logins == 3  # 3 tries of the call, one login each; nested policies made it 3 × 3
    assert len(time.sleeps) == 2


# -- HubSpot: Retry-After as an HTTP-date ---------------------------------------------------------
def test_given_a_hubspot_429_with_an_http_date_retry_after_when_writing_then_it_waits_until_then(
    harness: HubSpotHarness,
) -> None:
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    connector = harness.connector()
    harness.portal.limits.configure(ten_secondly=3, retry_after=http_date(30))
    while harness.portal.limits.admit(search=False).policy is None:
        pass  # the ten-second window is full at this (simulated) moment
    [result] = connector.write_batch("contacts", [WriteItem("k", {"leadbridge_status": "offered"}, contact)])
    assert result.ok
    [wait] = harness.time.sleeps
    assert 28.0 <= wait <= 30.5  # the date's distance, not the 10 s window


# -- a Retry-After longer than the budget moves to the outbox row ----------------------------------
class StatusWriter:
    """Writes one status field onto an existing record per outbox group (the smallest real Writer)."""

    def __init__(self, connector: Any, stream: str, record_id: str, fields: dict[str, Any]) -> None:
        self.connector, self.stream, self.record_id, self.fields = connector, stream, record_id, fields

    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]:
        return [
            Planned(group, self.stream, WriteItem("|".join(group), self.fields, self.record_id))
            for group in groups
        ]

    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        return list(self.connector.write_batch(stream, items))

    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        return None


def queue_one(database: Database) -> None:
    with database.transaction() as session:
        outbox.enqueue(
            session,
            target="home",
            kind="lead_status",
            lead_id="L-1",
            idempotency_key="home:L-1:1",
            payload={},
            now=T0,
        )


def the_row(database: Database) -> tuple[str, int, datetime]:
    with database.transaction() as session:
        [row] = outbox.list_rows(session)
        due = row.next_attempt_at if row.next_attempt_at.tzinfo else row.next_attempt_at.replace(tzinfo=UTC)
        return row.status, row.attempts, due


def test_given_a_hubspot_429_with_retry_after_past_the_budget_when_flushing_then_the_row_is_rescheduled(
    harness: HubSpotHarness, database: Database
) -> None:
    [contact] = add_contacts(harness.portal, 1, same_stamp=False)
    connector = harness.connector()  # its policy's budget is 120 s
    harness.portal.limits.configure(ten_secondly=3, retry_after=3600)
    while harness.portal.limits.admit(search=False).policy is None:
        pass
    queue_one(database)
    writer = StatusWriter(connector, "contacts", contact, {"leadbridge_status": "offered"})
    stats = flush(database, "home", writer, worker="w", clock=lambda: T0, settings=OutboxSettings())
    assert stats.stopped == "error" and stats.failed == 1
    assert harness.time.sleeps == []  # nobody slept through the hour
    assert harness.portal.counters.snapshot()["contacts.batch.update"] == 1
    status, attempts, due = the_row(database)
    assert (status, attempts) == (OutboxStatus.PENDING, 1)
    assert timedelta(hours=1) <= due - T0 <= timedelta(hours=1, minutes=1)  # Retry-After, not capped


def test_given_a_salesforce_503_with_a_far_http_date_when_flushing_then_the_row_waits_until_then(
    box: Sandbox, org: SalesforceOrg, database: Database
) -> None:
    [lead] = add_leads(org, 1, same_stamp=False)
    time = FakeTime()
    connector = sf_connector(box, org, time, max_seconds=60.0)
    queue_one(database)
    writer = StatusWriter(connector, "Lead", lead, {"Title": "Einkauf"})
    now = datetime.now(UTC)
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        rsps.add_passthru(org.instance_url)
        rsps.add(  # only the one try: the policy does not sleep two hours, it hands the wait over
            "PATCH",
            re.compile(r".*/composite/sobjects$"),
            json=UNAVAILABLE,
            status=503,
            headers={"Retry-After": http_date(7200)},
        )
        stats = flush(database, "home", writer, worker="w", clock=lambda: now, settings=OutboxSettings())
    assert stats.stopped == "error" and time.sleeps == []
    status, attempts, due = the_row(database)
    assert (status, attempts) == (OutboxStatus.PENDING, 1)
    assert timedelta(seconds=7190) <= due - now <= timedelta(seconds=7200 + 60)
