"""Helpers to point leadbridge's Salesforce connector at a sandbox org (tests, demo-like setups)."""

from __future__ import annotations

import itertools
import random
import time
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from leadbridge.connectors.salesforce import SalesforceConfig, SalesforceConnector, connect
from leadbridge.core.retry import RetryPolicy
from leadbridge.sandbox.salesforce.org import SalesforceOrg

_numbers = itertools.count(1)


def org_config(
    org: SalesforceOrg, ca_file: Any, *, name: str, role: str = "manufacturer", **extra: Any
) -> SalesforceConfig:
    """The connection settings a user would write for this org (password + security token)."""
    return SalesforceConfig.model_validate(
        {
            "name": name,
            "kind": "salesforce",
            "role": role,
            "auth": "password",
            "username": org.username,
            "password": org.password,
            "security_token": org.security_token,
            "instance_url": org.instance_url,
            "login_url": org.instance_url,
            "ca_file": str(ca_file),
            **extra,
        }
    )


def no_wait(max_attempts: int = 5) -> RetryPolicy:
    """The one policy, without sleeping (the sandbox is local) and seeded: tests build their own."""
    return RetryPolicy(max_attempts=max_attempts, sleep=lambda _seconds: None, rng=random.Random(7))


def sandbox_connector(org: SalesforceOrg, ca_file: Any, *, name: str, **extra: Any) -> SalesforceConnector:
    return connect(org_config(org, ca_file, name=name, **extra), retry=no_wait())


def a_sf_lead(number: int | None = None, **overrides: Any) -> dict[str, Any]:
    n = number if number is not None else next(_numbers)
    return {
        "FirstName": "Jana",
        "LastName": f"Test{n}",
        "Company": f"Testbau {n} GmbH",
        "Email": f"jana.test{n}@example.com",
        "PostalCode": f"8{n % 10000:04d}",
        "City": "München",
        "Country": "Germany",
        "Industry": "Construction",
        "NumberOfEmployees": 25,
        "Lifecycle_Stage__c": "MQL",
        "Product_Interest__c": "heat_pumps",
        "Consent_Share_With_Partners__c": True,
        **overrides,
    }


def add_leads(org: SalesforceOrg, count: int, *, same_stamp: bool, **overrides: Any) -> list[str]:
    """Create qualified Leads directly in the org (not counted as API calls)."""
    if same_stamp:
        org.clock.freeze()
    try:
        return [org.create("Lead", a_sf_lead(**overrides)) for _ in range(count)]
    finally:
        if same_stamp:
            org.clock.unfreeze()
            time.sleep(0.002)  # the next write gets a later millisecond


def update_lead(org: SalesforceOrg, record_id: str, fields: dict[str, Any]) -> None:
    """A person editing the record in the org (stamps move forward)."""
    store = org.store
    store.update(store.object("Lead"), record_id, fields, user_id=org.integration_user_id)


class Fail429Once(HTTPAdapter):
    """Answer the first request with 429 Too Many Requests, then pass everything through."""

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__()
        self.failed, self.retry_after = False, retry_after

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if self.failed:
            return super().send(request, *args, **kwargs)
        self.failed = True
        response = requests.Response()
        response.status_code = 429
        response.headers["Retry-After"] = str(self.retry_after)
        response._content = b'[{"errorCode":"TOO_MANY_REQUESTS","message":"slow down"}]'
        response.url = request.url or ""
        response.request = request
        return response


LOOKBACK = timedelta(seconds=5)
