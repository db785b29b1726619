"""CSV as a connection kind (``kind: csv``): a name for where imported leads came from."""

from __future__ import annotations

from typing import Literal

from leadbridge.core.settings import ConnectionConfig
from leadbridge.ports import Capability, Kind


class CsvConfig(ConnectionConfig):
    """A CSV source names the leads ``leadbridge leads import --connection NAME`` takes in."""

    kind: Literal["csv"] = "csv"
    role: Literal["manufacturer"] = "manufacturer"


# No factory: CSV files are read by ``leads import`` / ``partners import`` (``csvfile.py``), not
# polled or synced; the connection only labels where imported leads came from.
KIND = Kind(
    name="csv",
    config=CsvConfig,
    factory=None,
    capabilities=frozenset({Capability.HOME}),
    summary="CSV files of leads imported with `leadbridge leads import`",
)
