"""Helpers to point leadbridge's Dynamics connector at a sandbox environment (tests)."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

from leadbridge.connectors.dynamics import DynamicsConfig, DynamicsConnector, connect
from leadbridge.core.retry import RetryPolicy
from leadbridge.sandbox.dynamics.org import DataverseOrg

_numbers = itertools.count(1)


def org_values(
    org: DataverseOrg, ca_file: Any, *, name: str, role: str = "manufacturer", **extra: Any
) -> dict[str, Any]:
    """The connection settings a user would write for this environment."""
    return {
        "name": name,
        "kind": "dynamics",
        "role": role,
        "org_url": org.url,
        "authority_url": org.url,
        "tenant_id": org.tenant_id,
        "client_id": org.client_id,
        "client_secret": org.client_secret,
        "ca_file": str(ca_file),
        **extra,
    }


def org_config(org: DataverseOrg, ca_file: Any, *, name: str, **extra: Any) -> DynamicsConfig:
    return DynamicsConfig.model_validate(org_values(org, ca_file, name=name, **extra))


def no_wait(max_attempts: int = 5, slept: list[float] | None = None) -> RetryPolicy:
    record = slept if slept is not None else []
    return RetryPolicy(max_attempts=max_attempts, sleep=record.append, rng=random.Random(7))


def sandbox_connector(
    org: DataverseOrg, ca_file: Any, *, name: str = "home", retry: RetryPolicy | None = None, **extra: Any
) -> DynamicsConnector:
    return connect(org_config(org, ca_file, name=name, **extra), retry=retry or no_wait())


def a_lead(number: int | None = None, **overrides: Any) -> dict[str, Any]:
    n = number if number is not None else next(_numbers)
    return {
        "firstname": "Jana",
        "lastname": f"Test{n}",
        "companyname": f"Testbau {n} GmbH",
        "emailaddress1": f"jana.test{n}@example.com",
        "address1_postalcode": f"8{n % 10000:04d}",
        "address1_city": "München",
        "address1_country": "Germany",
        "new_industry": "construction",
        "numberofemployees": 25,
        "new_lifecyclestage": "MQL",
        "new_productinterest": "heat_pumps",
        "new_consentsharewithpartners": True,
        **overrides,
    }


def add_leads(org: DataverseOrg, count: int, *, same_stamp: bool, **overrides: Any) -> list[str]:
    """Create qualified leads directly in the environment (not counted as API calls)."""
    if same_stamp:
        org.clock.freeze()
    try:
        return [org.create("leads", a_lead(**overrides))["leadid"] for _ in range(count)]
    finally:
        if same_stamp:
            org.clock.unfreeze()
            time.sleep(0.002)
