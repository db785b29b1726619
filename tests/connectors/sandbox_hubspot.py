"""Helpers to point leadbridge's HubSpot connector at a sandbox portal, on simulated time.

Rate limits in the portal and the connector's pacing and retry waits share one ``FakeTime``: a
retry that "waits 10 s" advances it by 10 s at once, so the portal's windows empty exactly as they
would in real time and the tests stay fast and deterministic.
"""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Sequence
from typing import Any

from leadbridge.connectors.hubspot import HubSpotConfig, HubSpotConnector, Pacer, connect
from leadbridge.core.retry import RetryPolicy
from leadbridge.ports import WriteItem
from leadbridge.sandbox.hubspot.associations import HUBSPOT_DEFINED, PAIRS
from leadbridge.sandbox.hubspot.limits import RateLimits
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.store import CRM_UI

_numbers = itertools.count(1)


class FakeTime:
    """A monotonic clock that only moves when someone sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def simulate_time(portal: Portal) -> FakeTime:
    """Give the portal rate limits that run on a fresh ``FakeTime`` (same allowances as before)."""
    fake = FakeTime()
    old = portal.limits
    portal.limits = RateLimits(
        portal.faults.quota,
        ten_secondly=old.ten_secondly,
        search_per_second=old.search_per_second,
        monotonic=fake.monotonic,
    )
    return fake


def portal_config(portal: Portal, url: str, ca_file: Any, *, name: str, **extra: Any) -> HubSpotConfig:
    """The connection settings a user would write for this portal (private app token)."""
    return HubSpotConfig.model_validate(
        {
            "name": name,
            "kind": "hubspot",
            "base_url": url,
            "access_token": portal.access_token,
            "ca_file": str(ca_file),
            "client_secret": portal.client_secret,
            **extra,
        }
    )


def a_contact(number: int | None = None, **overrides: Any) -> dict[str, Any]:
    n = number if number is not None else next(_numbers)
    return {
        "firstname": "Jana",
        "lastname": f"Test{n}",
        "email": f"jana.test{n}@example.com",
        "company": f"Testbau {n} GmbH",
        "zip": f"8{n % 10000:04d}",
        "city": "München",
        "country": "Germany",
        "industry": "construction",
        "lifecyclestage": "marketingqualifiedlead",
        "product_interest": "heat_pumps",
        "consent_share_with_partners": "true",
        **overrides,
    }


def add_contacts(
    portal: Portal, count: int, *, same_stamp: bool, company_id: str | None = None, **overrides: Any
) -> list[str]:
    """Create contacts the way a person in the CRM would (not API calls), optionally on one stamp."""
    links = []
    if company_id is not None:
        pair = PAIRS[("contacts", "companies")]
        links = [
            ("companies", company_id, HUBSPOT_DEFINED, pair.default),
            ("companies", company_id, HUBSPOT_DEFINED, 1),
        ]
    if same_stamp:
        portal.clock.freeze()
    try:
        return [
            portal.create("contacts", a_contact(**overrides), links=links, source=CRM_UI).id
            for _ in range(count)
        ]
    finally:
        if same_stamp:
            portal.clock.unfreeze()
            time.sleep(0.002)  # the next write gets a later millisecond


class HubSpotHarness:
    """The contract ``Harness`` for one sandbox portal (manufacturer side)."""

    stream = "contacts"
    write_stream = "contacts:upsert"
    page_size = 10

    def __init__(self, portal: Portal, url: str, ca_file: Any, *, role: str = "manufacturer") -> None:
        self.portal, self.url, self.ca_file, self.role = portal, url, ca_file, role
        self.time = simulate_time(portal)
        self.token = portal.access_token
        self.built: list[HubSpotConnector] = []
        self._written = itertools.count(1)
        self.connector().install_properties()

    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=5,
            max_seconds=120,
            sleep=self.time.sleep,
            clock=self.time.monotonic,
            rng=random.Random(3),  # the spread on top of a Retry-After, replayable
        )

    def pacer(self) -> Pacer:
        return Pacer(5, clock=self.time.monotonic, sleep=self.time.sleep)

    def config(self, *, name: str = "home", **extra: Any) -> HubSpotConfig:
        extra.setdefault("page_size", self.page_size)
        return portal_config(self.portal, self.url, self.ca_file, name=name, role=self.role, **extra)

    def connector(self, *, token: str | None = None, name: str = "home", **extra: Any) -> HubSpotConnector:
        config = self.config(name=name, **extra)
        provider = (lambda: token) if token else (lambda: self.token)
        built = connect(config, retry=self.retry(), pacer=self.pacer(), token_provider=provider)
        self.built.append(built)
        return built

    def broken_connector(self) -> HubSpotConnector:
        return self.connector(token="pat-eu1-wrong")

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        return add_contacts(self.portal, count, same_stamp=same_stamp)

    def touch(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            self.portal.edit_as_user("contacts", record_id, {"jobtitle": "Einkauf (geändert)"})

    def write_items(self, count: int) -> list[WriteItem]:
        items = []
        for _ in range(count):
            n = next(self._written)
            fields = {"leadbridge_id": f"L-contract{n}", "lastname": f"Written{n}", "company": "Written GmbH"}
            items.append(WriteItem(f"k{n}", fields))
        return items

    def remote_count(self) -> int:
        return sum(1 for r in self.portal.store("contacts").live() if r.properties.get("leadbridge_id"))

    def fail_next_call_with_429(self, connector: HubSpotConnector) -> None:
        """Someone else used this second's search budget: the next search gets a 429."""
        for _ in range(self.portal.limits.search_per_second):
            assert self.portal.limits.admit(search=True).policy is None

    def expire_session(self) -> None:
        """The connectors' tokens are no longer valid; the token provider has the current one."""
        for built in self.built:
            built.client.token, built.client._apis = "pat-eu1-expired", None

    def allow_calls(self, calls: int) -> None:
        quota = self.portal.faults.quota
        self.portal.limits.configure(daily=quota.used + calls)
