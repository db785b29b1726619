"""The connector contract, run against the HubSpot connector and a sandbox portal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from leadbridge.sandbox import Sandbox
from tests.connectors.contract import ConnectorContract
from tests.connectors.sandbox_hubspot import HubSpotHarness


@pytest.fixture
def harness() -> Iterator[HubSpotHarness]:
    with Sandbox.plan(partners=0, leads=0, seed=3, services=["hubspot"]) as box:
        yield HubSpotHarness(box.hubspot.portal("manufacturer"), box.hubspot.base_url(), box.ca_file)


class TestHubSpotContract(ConnectorContract):
    pass
