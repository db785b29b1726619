"""A connector kind written only for the tests: registering ``KIND`` is all it takes to get the
shared contract suite (``tests/connectors/test_contract.py``)."""

from __future__ import annotations

from typing import Any

from leadbridge.ports import Capability, Connector, ConnectorDeps, Kind
from tests.connectors.extra_kinds.toy.connector import ToyConfig, ToyConnector


def _factory(config: Any, deps: ConnectorDeps) -> Connector:
    return ToyConnector(config, deps.retry)


KIND = Kind(
    name="toy",
    config=ToyConfig,
    factory=_factory,
    capabilities=frozenset({Capability.DESCRIBE, Capability.CREATE_FIELDS, Capability.HOME}),
    summary="a CRM of one object over loopback HTTP (tests only)",
)
