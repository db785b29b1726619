"""Sandbox fixtures: a running Salesforce stand-in and real simple-salesforce clients against it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from simple_salesforce import Salesforce

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.clients import salesforce_client
from leadbridge.sandbox.salesforce.org import DEFAULT_DAILY_QUOTA, SalesforceOrg


@pytest.fixture(scope="module")
def sf_sandbox() -> Iterator[Sandbox]:
    """One Salesforce-only sandbox per test module: a manufacturer org (40 leads) and one partner."""
    with Sandbox.plan(partners=1, leads=40, seed=42, services=["salesforce"]) as box:
        yield box


@pytest.fixture()
def sf_org(sf_sandbox: Sandbox) -> Iterator[SalesforceOrg]:
    """The manufacturer org; faults, quota, clock and counters are reset after each test."""
    org = sf_sandbox.salesforce.org("manufacturer")
    org.counters.reset()
    yield org
    org.faults.clear()
    org.faults.reseed(org.spec.seed)
    org.faults.quota.set(DEFAULT_DAILY_QUOTA, used=0)
    org.clock.reset()
    org.upsert_update_status = None


@pytest.fixture()
def sf(sf_org: SalesforceOrg, sf_sandbox: Sandbox) -> Salesforce:
    """A real simple-salesforce client on the manufacturer org's pre-issued session."""
    return salesforce_client(sf_org, sf_sandbox.ca_file)


@pytest.fixture()
def fresh_sf_org() -> Iterator[tuple[Sandbox, SalesforceOrg]]:
    """A brand-new org with only a handful of seeded leads, for tests that change its schema or data."""
    with Sandbox.plan(partners=0, leads=5, seed=7, services=["salesforce"]) as box:
        yield box, box.salesforce.org("manufacturer")
