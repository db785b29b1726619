"""The connector contract, run against the Salesforce connector and a sandbox org."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadbridge.sandbox import Sandbox
from tests.connectors.contract import ConnectorContract
from tests.connectors.sandbox_salesforce import SalesforceHarness


@pytest.fixture
def harness() -> Iterator[SalesforceHarness]:
    with Sandbox.plan(partners=0, leads=0, seed=3, services=["salesforce"]) as box:
        yield SalesforceHarness(box.salesforce.org("manufacturer"), box.ca_file)


class TestSalesforceContract(ConnectorContract):
    pass
