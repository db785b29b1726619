"""Partner figures onto account records: the mapping section as data the connectors read.

``mappings/performance.py`` loads and checks it; a home connector (``connector.AccountWriter``)
carries its connection's section and writes the figures it names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PerformanceSection:
    """A loaded section: figure -> remote field, in the order written."""

    object: str
    window_days: int
    every_hours: float
    fields: tuple[tuple[str, str], ...]
    lines: tuple[tuple[str, int], ...] = ()  # figure -> line, for messages

    def line(self, figure: str) -> int:
        return dict(self.lines).get(figure, 0)

    @property
    def every_s(self) -> float:
        return self.every_hours * 3600.0
