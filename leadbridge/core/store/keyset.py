"""Keyset pagination: pages ordered by ``(column, id)`` that continue after the last row seen.

Rules:
- a page is ``limit`` rows in a total order — the sort column, then the row id as tie-break — so
  rows sharing a timestamp are neither skipped nor repeated (the same rule as sync checkpoints);
- the next page starts strictly after the last row's ``(value, id)``; the database walks an index
  on ``(column, id)`` from there, so page 10,000 costs what page 1 costs (no OFFSET scan);
- the cursor is opaque to clients: URL-safe base64 of the value and id; a malformed one is a
  ``ValueError`` (a 400/422 at the edge, never a 500);
- rows that change while someone pages may move; each row still appears at most once per walk
  when its sort value only grows (``updated_at``), which is what listings sort by.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.orm import QueryableAttribute

T = TypeVar("T", bound=Select[Any])


@dataclass(frozen=True)
class Cursor:
    """Where a page ended: the last row's sort value and id."""

    value: datetime | str
    id: str

    def encode(self) -> str:
        kind = "t" if isinstance(self.value, datetime) else "s"
        value = self.value.isoformat() if isinstance(self.value, datetime) else self.value
        raw = f"{kind}|{value}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """The cursor ``encode`` made; ``ValueError`` for anything else."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            kind, value, row_id = raw.split("|", 2)
            if kind == "t":
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    raise ValueError("naive time")
                return cls(moment, row_id)
            if kind == "s":
                return cls(value, row_id)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            pass
        raise ValueError(f"not a page cursor: {token[:40]!r}")


def keyset(
    query: T,
    column: ColumnElement[Any] | QueryableAttribute[Any],
    id_column: ColumnElement[Any] | QueryableAttribute[Any],
    *,
    after: Cursor | None,
    limit: int,
    descending: bool,
) -> T:
    """``query`` ordered by ``(column, id)`` and continued after ``after``; one row more than
    ``limit`` is asked for, so ``split`` can tell whether another page follows."""
    if after is not None:
        if descending:
            query = query.where(and_(column <= after.value, or_(column < after.value, id_column < after.id)))
        else:
            query = query.where(and_(column >= after.value, or_(column > after.value, id_column > after.id)))
    order = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    return query.order_by(*order).limit(limit + 1)


def split(
    rows: Sequence[Any], limit: int, value: str, id_name: str = "id"
) -> tuple[list[Any], Cursor | None]:
    """The page's rows and the cursor of the next page (``None`` on the last page)."""
    page = list(rows[:limit])
    if len(rows) <= limit or not page:
        return page, None
    last = page[-1]
    return page, Cursor(getattr(last, value), getattr(last, id_name))
