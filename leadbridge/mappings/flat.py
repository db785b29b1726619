"""A flat canonical record: canonical path → value, empty fields as ``None``.

A plan maps a batch column by column; the records then share one path index and each holds only
its list of values, so making 100,000 of them costs a list each instead of a dict each (building
the dicts was a quarter of the whole mapping's time). It reads like a ``dict``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class FlatRecord(Mapping[str, Any]):
    """Read-only view of one record's values under a shared ``{path: position}`` index."""

    __slots__ = ("cells", "index")

    def __init__(self, index: dict[str, int], cells: list[Any]) -> None:
        self.index = index
        self.cells = cells

    def __getitem__(self, path: str) -> Any:
        return self.cells[self.index[path]]

    def get(self, path: str, default: Any = None) -> Any:
        position = self.index.get(path)
        if position is None:
            return default
        value = self.cells[position]
        return default if value is None else value

    def __contains__(self, path: object) -> bool:
        return path in self.index

    def __iter__(self) -> Iterator[str]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)

    def pairs(self) -> Iterator[tuple[str, Any]]:
        """``(path, value)`` for every field that has a value."""
        return (
            (path, value) for path, value in zip(self.index, self.cells, strict=True) if value is not None
        )

    def __repr__(self) -> str:
        return f"FlatRecord({dict(self.pairs())!r})"
