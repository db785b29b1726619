"""Salesforce-specific behaviour beyond the contract: auth flows, quota guard, collections, late rows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from leadbridge.connectors.salesforce import connect
from leadbridge.connectors.salesforce.client import http_session, login
from leadbridge.connectors.salesforce.errors import SALESFORCE_ERRORS
from leadbridge.core.errors import FatalConnectorError, QuotaExhausted, RetriableError
from leadbridge.ports import Action, WriteItem, advance
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.salesforce.org import SalesforceOrg
from tests.connectors.contract import read_all
from tests.connectors.sandbox_salesforce import add_leads, no_wait, org_config, sandbox_connector


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox.plan(partners=0, leads=0, seed=5, services=["salesforce"]) as running:
        yield running


@pytest.fixture
def org(box: Sandbox) -> SalesforceOrg:
    return box.salesforce.org("manufacturer")


@pytest.mark.parametrize("auth", ["jwt", "client_credentials", "password_oauth"])
def test_given_each_auth_flow_when_checking_then_it_logs_in(
    box: Sandbox, org: SalesforceOrg, auth: str
) -> None:
    extra: dict[str, object] = {
        "jwt": {"auth": "jwt", "consumer_key": org.consumer_key, "private_key": org.jwt_private_key_pem},
        "client_credentials": {
            "auth": "client_credentials",
            "consumer_key": org.consumer_key,
            "consumer_secret": org.consumer_secret,
            "domain": "acme.my",
        },
        "password_oauth": {"consumer_key": org.consumer_key, "consumer_secret": org.consumer_secret},
    }[auth]
    config = org_config(org, box.ca_file, name="home", **extra)
    result = connect(config, retry=no_wait()).check()
    assert result.ok, result.message


def test_given_a_bare_session_that_expires_then_the_error_says_how_to_fix_it(
    box: Sandbox, org: SalesforceOrg
) -> None:
    config = org_config(org, box.ca_file, name="home", auth="session", access_token=org.session_id)
    connector = connect(config, retry=no_wait())
    assert connector.check().ok
    org.faults.expire_session_after(0)
    with pytest.raises(FatalConnectorError, match="jwt or client_credentials"):
        read_all(connector, "Lead", None)


def test_given_usage_near_the_stop_share_then_the_guard_stops_before_salesforce_refuses(
    box: Sandbox, org: SalesforceOrg
) -> None:
    add_leads(org, 5, same_stamp=False)
    org.faults.quota.set(1000, used=895)
    connector = sandbox_connector(org, box.ca_file, name="home", quota_stop_share=0.9)
    connector.client.limits()  # 896/1000: below 90 %
    org.faults.quota.set(1000, used=905)
    connector.client.limits()  # the answer says 906/1000: from now on the guard refuses
    calls = connector.client.calls
    with pytest.raises(QuotaExhausted, match="90%"):
        read_all(connector, "Lead", None)
    assert connector.client.calls == calls  # not a single further request was sent


def test_given_a_row_committed_late_with_an_older_stamp_then_the_lookback_reads_it_once(
    box: Sandbox, org: SalesforceOrg
) -> None:
    add_leads(org, 3, same_stamp=False)
    connector = sandbox_connector(org, box.ca_file, name="home")
    _, checkpoint = read_all(connector, "Lead", None)
    assert checkpoint is not None
    org.clock.freeze(org.clock.now() - timedelta(seconds=2))  # a long transaction commits now
    late = org.create("Lead", {"LastName": "Late", "Company": "Late AG", "Lifecycle_Stage__c": "SQL"})
    org.clock.unfreeze()
    taken, after = read_all(connector, "Lead", checkpoint)
    assert [c.external_id for c in taken] == [late]
    again, _ = read_all(connector, "Lead", after)
    assert again == []


def test_given_deleted_and_unqualified_leads_then_deletions_come_in_and_others_stay_out(
    box: Sandbox, org: SalesforceOrg
) -> None:
    kept, gone = add_leads(org, 2, same_stamp=False)
    add_leads(org, 2, same_stamp=False, Lifecycle_Stage__c="Lead")
    org.store.delete(org.store.object("Lead"), gone)
    taken, _ = read_all(sandbox_connector(org, box.ca_file, name="home"), "Lead", None)
    assert {(c.external_id, c.deleted) for c in taken} == {(kept, False), (gone, True)}


def test_given_201_records_then_two_collection_calls_and_item_failures_are_reported(
    box: Sandbox, org: SalesforceOrg
) -> None:
    connector = sandbox_connector(org, box.ca_file, name="home")
    items = [
        WriteItem(f"k{n}", {"LeadBridge_Id__c": f"L-{n}", "LastName": f"N{n}", "Company": "C"})
        for n in range(201)
    ]
    items[7] = WriteItem("k7", {"LeadBridge_Id__c": "L-7", "Company": "C"})  # LastName missing: refused
    before = org.counters.snapshot()
    results = connector.write_batch("Lead:upsert", items)
    after = org.counters.snapshot()
    assert after.get("collections.upsert", 0) - before.get("collections.upsert", 0) == 2
    assert [r.ok for r in results].count(False) == 1
    assert results[7].action is Action.SKIP and "REQUIRED_FIELD_MISSING" in (results[7].error or "")


def test_error_table_maps_salesforce_failures_to_actions() -> None:
    assert SALESFORCE_ERRORS.classify(403, "REQUEST_LIMIT_EXCEEDED").action is Action.STOP_QUOTA
    assert SALESFORCE_ERRORS.classify(401, "INVALID_SESSION_ID").action is Action.REFRESH_SESSION
    assert SALESFORCE_ERRORS.classify(400, "UNABLE_TO_LOCK_ROW").action is Action.RETRY
    assert SALESFORCE_ERRORS.classify(503, "SERVER_UNAVAILABLE").action is Action.RETRY
    assert SALESFORCE_ERRORS.classify(400, "INVALID_FIELD").action is Action.FATAL
    assert SALESFORCE_ERRORS.classify(400, "DUPLICATES_DETECTED").action is Action.SKIP
    assert SALESFORCE_ERRORS.classify(502, None).action is Action.RETRY


def test_given_a_page_then_its_checkpoint_lists_the_window_it_covers(
    box: Sandbox, org: SalesforceOrg
) -> None:
    add_leads(org, 4, same_stamp=True)
    connector = sandbox_connector(org, box.ca_file, name="home")
    page = next(iter(connector.read_changes("Lead", None)))
    checkpoint = advance(None, page, connector.lookback)
    assert checkpoint is not None and len(checkpoint.recent) == 4
    assert (checkpoint.stamp, checkpoint.id) == max((c.stamp, c.external_id) for c in page)


@pytest.mark.parametrize("error", ["server_error", "unavailable"])
def test_given_a_server_failure_at_login_then_it_is_retried_not_reported_as_bad_credentials(
    box: Sandbox, org: SalesforceOrg, error: str
) -> None:
    config = org_config(org, box.ca_file, name="home")
    org.faults.set("login.soap", error_rate=1.0, error=error)
    with pytest.raises(RetriableError, match="could not log in just now"):
        login(config, http_session(config))
    org.faults.clear()
    wrong = org_config(org, box.ca_file, name="home", password="wrong")
    with pytest.raises(FatalConnectorError, match="refused the login"):
        login(wrong, http_session(wrong))
    assert login(config, http_session(config)).session_id


def test_given_an_object_the_org_lacks_then_describe_is_fatal_and_says_so(
    box: Sandbox, org: SalesforceOrg
) -> None:
    # Salesforce answers 404 NOT_FOUND on the describe URL (a missing record's answer), not INVALID_TYPE
    connector = sandbox_connector(org, box.ca_file, name="home")
    with pytest.raises(FatalConnectorError) as failure:
        connector.describe("Opportunity_Line__c")
    message = str(failure.value)
    assert "no sObject 'Opportunity_Line__c'" in message and "NOT_FOUND" in message
    assert connector.describe("Lead").fields["Email"].label == "Email"
