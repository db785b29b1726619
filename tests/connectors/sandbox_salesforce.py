"""Helpers to point leadbridge's Salesforce connector at a sandbox org (tests, demo-like setups)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from leadbridge.connectors.salesforce import SalesforceConfig, SalesforceConnector, connect
from leadbridge.core.retry import no_wait_policy
from leadbridge.ports import WriteItem
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


def sandbox_connector(org: SalesforceOrg, ca_file: Any, *, name: str, **extra: Any) -> SalesforceConnector:
    return connect(org_config(org, ca_file, name=name, **extra), retry=no_wait_policy())


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

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if self.failed:
            return super().send(request, *args, **kwargs)
        self.failed = True
        response = requests.Response()
        response.status_code = 429
        response.headers["Retry-After"] = "1"
        response._content = b'[{"errorCode":"TOO_MANY_REQUESTS","message":"slow down"}]'
        response.url = request.url or ""
        response.request = request
        return response


class SalesforceHarness:
    """The contract ``Harness`` for one sandbox org (manufacturer side)."""

    stream = "Lead"
    write_stream = "Lead:upsert"
    page_size = 200

    def __init__(self, org: SalesforceOrg, ca_file: Any) -> None:
        self.org, self.ca_file = org, ca_file
        self._written = itertools.count(1)

    def connector(self) -> SalesforceConnector:
        return sandbox_connector(self.org, self.ca_file, name="home", page_size=self.page_size)

    def broken_connector(self) -> SalesforceConnector:
        return sandbox_connector(self.org, self.ca_file, name="home", password="wrong")

    def add_records(self, count: int, *, same_stamp: bool) -> list[str]:
        return add_leads(self.org, count, same_stamp=same_stamp)

    def touch(self, ids: Sequence[str]) -> None:
        for record_id in ids:
            update_lead(self.org, record_id, {"Title": "Einkauf (geändert)"})

    def write_items(self, count: int) -> list[WriteItem]:
        items = []
        for _ in range(count):
            n = next(self._written)
            fields = {
                "LeadBridge_Id__c": f"L-contract{n}",
                "LastName": f"Written{n}",
                "Company": "Written GmbH",
            }
            items.append(WriteItem(f"k{n}", fields))
        return items

    def remote_count(self) -> int:
        return sum(1 for r in self.org.records("Lead") if r.get("LeadBridge_Id__c"))

    def fail_next_call_with_429(self, connector: SalesforceConnector) -> None:
        connector.client.session.mount(f"{self.org.instance_url}/", Fail429Once())

    def expire_session(self) -> None:
        self.org.faults.expire_session_after(0)

    def allow_calls(self, calls: int) -> None:
        quota = self.org.faults.quota
        quota.set(quota.used + calls)


LOOKBACK = timedelta(seconds=5)
