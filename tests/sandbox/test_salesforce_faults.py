"""Salesforce stand-in: quota, injected errors (replayable by seed), latency, drops, counters."""

from __future__ import annotations

import time

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from leadbridge.sandbox.clients import salesforce_client


def test_given_quota_used_up_when_calling_then_403_request_limit_exceeded(sf, sf_org):
    sf_org.faults.quota.set(3, used=0)
    for _ in range(3):
        sf.query("SELECT Id FROM Lead LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as failure:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert failure.value.status == 403
    assert failure.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert sf_org.counters["query"] == 4  # refused calls are still counted by endpoint


def _failure_pattern(org, client, calls=30):
    pattern = []
    for _ in range(calls):
        try:
            client.query("SELECT Id FROM Lead LIMIT 1")
            pattern.append(".")
        except SalesforceMalformedRequest as error:
            assert error.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
            pattern.append("L")
    return "".join(pattern)


def test_given_same_seed_when_replaying_then_injected_errors_repeat_exactly(sf, sf_org):
    sf_org.faults.reseed(1234)
    sf_org.faults.set("query", error_rate=0.3, error="lock")
    first = _failure_pattern(sf_org, sf)
    sf_org.faults.reseed(1234)
    sf.limits()  # other endpoints in between do not shift the sequence
    assert _failure_pattern(sf_org, sf) == first
    sf_org.faults.reseed(99)
    assert _failure_pattern(sf_org, sf) != first
    assert 3 <= first.count("L") <= 20


@pytest.mark.parametrize(
    ("kind", "exception", "status", "code"),
    [
        ("server_error", SalesforceGeneralError, 500, "UNKNOWN_EXCEPTION"),
        ("unavailable", SalesforceGeneralError, 503, "SERVER_UNAVAILABLE"),
        ("limit", SalesforceRefusedRequest, 403, "REQUEST_LIMIT_EXCEEDED"),
    ],
)
def test_given_error_kind_when_injected_then_client_sees_matching_exception(
    sf, sf_org, kind, exception, status, code
):
    sf_org.faults.set("sobject.describe", error_rate=1.0, error=kind)
    with pytest.raises(exception) as failure:
        sf.Lead.describe()
    assert failure.value.status == status and failure.value.content[0]["errorCode"] == code
    assert sf.query("SELECT COUNT() FROM Lead")["done"] is True  # other endpoints unaffected


def test_given_latency_when_calling_then_the_answer_is_delayed(sf, sf_org):
    sf_org.faults.set("limits", latency=0.2)
    started = time.perf_counter()
    sf.limits()
    assert time.perf_counter() - started >= 0.2


def test_given_drop_rate_when_calling_then_connection_error_and_next_call_recovers(sf, sf_org, sf_sandbox):
    sf_org.faults.set("limits", drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        sf.limits()
    sf_org.faults.clear("limits")
    assert "DailyApiRequests" in salesforce_client(sf_org, sf_sandbox.ca_file).limits()


def test_given_mixed_calls_when_reading_counters_then_counts_by_endpoint(sf, sf_org):
    lead = sf.Lead.create({"LastName": "Count", "Company": "Zähler GmbH"})["id"]
    sf.Lead.get(lead)
    sf.Lead.update(lead, {"Title": "CEO"})
    sf.query_all("SELECT Id FROM Lead")
    assert sf_org.counters.snapshot() == {
        "query": 1,
        "sobject.create": 1,
        "sobject.get": 1,
        "sobject.update": 1,
    }
    assert sf_org.counters.total() == 4
