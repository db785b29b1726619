"""Auth, rate limits (ten-secondly, daily, search secondly), injected faults and request counters."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from itertools import count

import pytest
from hubspot import HubSpot
from hubspot.crm.contacts import ApiException, PublicObjectSearchRequest, SimplePublicObjectInputForCreate
from hubspot.crm.contacts.exceptions import ServiceException, UnauthorizedException
from urllib3.util.retry import Retry

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.faults import Quota
from leadbridge.sandbox.hubspot.client import hubspot_client
from leadbridge.sandbox.hubspot.limits import RateLimits
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.service import HubSpotService
from leadbridge.sandbox.registry import OrgSpec

_names = count(1)


@pytest.fixture(scope="module")
def service() -> Iterator[HubSpotService]:
    with Sandbox.plan(services=["hubspot"], leads=3, seed=3) as box:
        yield box.hubspot


@pytest.fixture()
def fresh(service: HubSpotService) -> tuple[Portal, HubSpot]:
    """A new, empty portal per test: limits and counters start from zero."""
    name = f"limits-{next(_names)}"
    portal = service.add_portal(OrgSpec(name, "partner", 100 + next(_names), 0), seed_data=False)
    return portal, service.client(name)


def _search(hs: HubSpot) -> object:
    return hs.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))


def test_given_wrong_or_missing_token_when_calling_then_401_with_hubspot_body(service):
    base, ca = service.base_url(), service.ca_file
    for token in ("pat-wrong", ""):
        hs = hubspot_client(base, token, ca)
        with pytest.raises(UnauthorizedException) as caught:
            hs.crm.contacts.basic_api.get_page()
        body = json.loads(caught.value.body)
        assert body["status"] == "error" and body["category"] == "INVALID_AUTHENTICATION"
        assert body["correlationId"]


def test_given_token_of_another_portal_when_calling_then_401(service, fresh):
    portal, _hs = fresh
    other = hubspot_client(service.base_url(), portal.access_token, service.ca_file)
    with pytest.raises(UnauthorizedException):
        other.crm.contacts.basic_api.get_page()


def test_given_ten_secondly_limit_when_exceeded_then_429_with_headers_and_policy(fresh):
    portal, hs = fresh
    portal.limits.configure(ten_secondly=4)
    contacts = hs.crm.contacts.basic_api
    remaining = []
    for _ in range(4):
        _data, status, headers = contacts.get_page_with_http_info()
        assert status == 200
        remaining.append(int(headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [3, 2, 1, 0]
    assert headers["X-HubSpot-RateLimit-Max"] == "4"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert (
        int(headers["X-HubSpot-RateLimit-Daily-Remaining"]) == int(headers["X-HubSpot-RateLimit-Daily"]) - 4
    )
    with pytest.raises(ApiException) as caught:
        contacts.get_page()
    assert caught.value.status == 429
    body = json.loads(caught.value.body)
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert body["message"] == "You have reached your ten_secondly_rolling limit."
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    assert portal.counters["contacts.list"] == 5, "refused requests are counted too"


def test_given_rolling_window_when_time_passes_then_room_again():
    now = [1000.0]
    limits = RateLimits(Quota(100), ten_secondly=2, search_per_second=1, monotonic=lambda: now[0])
    assert [limits.admit(search=False).policy for _ in range(3)] == [None, None, "TEN_SECONDLY_ROLLING"]
    now[0] += 9.9
    assert limits.admit(search=False).policy == "TEN_SECONDLY_ROLLING"
    now[0] += 0.2
    assert limits.admit(search=False).policy is None
    assert [limits.admit(search=True).policy for _ in range(2)] == [None, "SECONDLY"]
    now[0] += 1.01
    assert limits.admit(search=True).policy is None
    assert limits.quota.used == 5, "refusals do not use the daily allowance"


def test_given_search_over_five_per_second_then_secondly_429_without_ratelimit_headers(fresh):
    portal, hs = fresh
    for _ in range(5):
        _search(hs)
    with pytest.raises(ApiException) as caught:
        _search(hs)
    body = json.loads(caught.value.body)
    assert caught.value.status == 429 and body["message"] == "You have reached your secondly limit."
    assert "X-HubSpot-RateLimit-Remaining" not in caught.value.headers
    assert portal.limits.admit(search=False).policy is None, "search has its own bucket"


def test_given_retry_after_and_client_retry_when_search_limited_then_client_waits_and_succeeds(
    service, fresh
):
    portal, _hs = fresh
    portal.limits.configure(retry_after=1)
    retry = Retry(
        total=3, status_forcelist=(429,), allowed_methods=None, backoff_factor=0, raise_on_status=False
    )
    hs = service.client(portal.name, retry=retry)
    for _ in range(5):
        _search(hs)
    started = time.monotonic()
    assert _search(hs).total == 0
    assert time.monotonic() - started >= 0.9, "Retry-After: 1 must be honoured"
    assert portal.counters["contacts.search"] == 7


def test_given_daily_limit_when_used_up_then_429_daily(fresh):
    portal, hs = fresh
    portal.limits.configure(daily=3, daily_used=1)
    contacts = hs.crm.contacts.basic_api
    contacts.get_page()
    _data, _status, headers = contacts.get_page_with_http_info()
    assert (
        headers["X-HubSpot-RateLimit-Daily"] == "3" and headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
    )
    for call in (contacts.get_page, lambda: _search(hs)):
        with pytest.raises(ApiException) as caught:
            call()
        body = json.loads(caught.value.body)
        assert caught.value.status == 429 and body["policyName"] == "DAILY"
        assert body["message"] == "You have reached your daily limit."


def test_given_injected_server_errors_when_calling_then_5xx_replayable_by_seed(fresh):
    portal, hs = fresh
    contacts = hs.crm.contacts.basic_api

    def pattern() -> list[int]:
        outcome = []
        for _ in range(12):
            try:
                contacts.get_page()
                outcome.append(200)
            except ServiceException as error:
                outcome.append(error.status)
        return outcome

    portal.limits.configure(ten_secondly=1_000)
    portal.faults.set("contacts.list", error_rate=0.5, error="unavailable")
    first = pattern()
    portal.faults.reseed(portal.seed)
    assert pattern() == first and {200, 503} == set(first)
    portal.faults.set("contacts.list", error_rate=1.0, error="server_error")
    with pytest.raises(ServiceException) as caught:
        contacts.get_page()
    assert caught.value.status == 500 and json.loads(caught.value.body)["status"] == "error"


def test_given_injected_rate_limit_and_latency_when_calling_then_429_and_slow(fresh):
    portal, hs = fresh
    portal.faults.set("contacts.create", error_rate=1.0, error="rate_limit")
    with pytest.raises(ApiException) as caught:
        hs.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={}))
    assert (
        caught.value.status == 429 and json.loads(caught.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
    )
    portal.faults.clear()
    portal.faults.set("contacts.list", latency=0.2)
    started = time.monotonic()
    hs.crm.contacts.basic_api.get_page()
    assert time.monotonic() - started >= 0.2


def test_given_mixed_calls_when_reading_counters_then_requests_by_endpoint(fresh):
    portal, hs = fresh
    made = hs.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "c@x.org"}))
    hs.crm.contacts.basic_api.get_by_id(made.id)
    hs.crm.contacts.basic_api.get_by_id(made.id)
    _search(hs)
    hs.crm.owners.owners_api.get_page()
    assert portal.counters.snapshot() == {
        "contacts.create": 1,
        "contacts.get": 2,
        "contacts.search": 1,
        "owners.list": 1,
    }
