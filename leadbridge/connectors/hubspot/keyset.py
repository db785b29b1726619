"""Incremental search over HubSpot's CRM search: keyset windows under the 10,000-result cap.

HubSpot's search pages with an integer offset (``after``), refuses offsets past 10,000 results per
query, allows one sort, and has no id tie-break (crm-api-notes §4.2). So a read is a sequence of
*windows*, each a fresh query:

- a window asks ``stamp >= lower`` sorted by the stamp ascending and pages with ``after`` until it
  has returned ``window_size`` results (never more than the cap); the next window starts at the
  last stamp it saw (``>=``: records sharing that stamp come again and the caller drops them);
- when a whole window shares ONE stamp (more records on one millisecond than a window holds) the
  stamp cannot narrow it, so the read switches to ``stamp == s AND id > last id`` sorted by id,
  window after window, and then continues with ``stamp > s``;
- a window of one page (the default) never depends on offsets at all, so a record that changes
  while the read is under way (and moves to the end of the sort) cannot shift a later record past
  a page boundary unseen.

The search function is injected, so the narrowing is tested without a portal too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from leadbridge.ports import parse_stamp

SearchFn = Callable[[dict[str, Any]], dict[str, Any]]
MAX_PAGE = 200
MAX_RESULTS = 10_000


def epoch_ms(stamp: str) -> int:
    """A checkpoint stamp (or any ISO 8601 / epoch-ms value HubSpot returns) as epoch milliseconds."""
    if stamp.isdigit():
        return int(stamp)
    return int(parse_stamp(stamp).timestamp() * 1000)


@dataclass(frozen=True)
class KeysetQuery:
    """What to search: object filters (ANDed), the stamp and id properties, paging limits."""

    stamp_property: str
    filters: tuple[dict[str, Any], ...] = ()
    properties: tuple[str, ...] = ()
    id_property: str = "hs_object_id"
    page_size: int = MAX_PAGE
    window_size: int = MAX_PAGE  # results per query before narrowing (≤ cap)
    cap: int = MAX_RESULTS

    def body(self, extra: Sequence[dict[str, Any]], sort: str, after: int) -> dict[str, Any]:
        return {
            "filterGroups": [{"filters": [*self.filters, *extra]}],
            "sorts": [{"propertyName": sort, "direction": "ASCENDING"}],
            "properties": list(self.properties),
            "limit": self.page_size,
            "after": str(after),
        }


@dataclass
class _Window:
    """Where the next query starts: ``stamp >= lower`` (``> lower`` if strict), or a tie run."""

    lower: int | None
    strict: bool = False
    tie_id: str | None = None  # set: ``stamp == lower AND id > tie_id``, sorted by id

    def filters(self, query: KeysetQuery) -> tuple[list[dict[str, Any]], str]:
        stamp = query.stamp_property
        if self.tie_id is not None:
            return [
                {"propertyName": stamp, "operator": "EQ", "value": str(self.lower)},
                {"propertyName": query.id_property, "operator": "GT", "value": self.tie_id},
            ], query.id_property
        if self.lower is None:
            return [], stamp
        operator = "GT" if self.strict else "GTE"
        return [{"propertyName": stamp, "operator": operator, "value": str(self.lower)}], stamp


def _stamp_of(record: dict[str, Any], query: KeysetQuery) -> int:
    return epoch_ms(str((record.get("properties") or {}).get(query.stamp_property) or record["updatedAt"]))


def keyset_pages(search: SearchFn, query: KeysetQuery, start: int | None) -> Iterator[list[dict[str, Any]]]:
    """Every record with ``stamp >= start`` (all if ``None``), page by page (module docstring).

    Pages may repeat records at window boundaries; the caller de-duplicates on ``(stamp, id)``.
    """
    window = _Window(start)
    limit = min(query.window_size, query.cap)
    while True:
        extra, sort = window.filters(query)
        after, seen, last = 0, 0, None
        exhausted = False
        while True:
            answer = search(query.body(extra, sort, after))
            results = list(answer.get("results") or [])
            if results:
                yield results
                seen, last = seen + len(results), results[-1]
            following = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if following is None or not results:
                exhausted = True
                break
            after = int(following)
            if after >= limit or after + query.page_size > query.cap:
                break
        if window.tie_id is not None:
            if exhausted:  # every record on the tied stamp is read: go on after it
                window = _Window(window.lower, strict=True)
            else:
                window = _Window(window.lower, tie_id=str(last["id"]) if last else window.tie_id)
            continue
        if exhausted or last is None:
            return
        top = _stamp_of(last, query)
        if window.lower is not None and top == window.lower and not window.strict:
            window = _Window(top, tie_id=str(last["id"]))  # one stamp fills the window
        else:
            window = _Window(top)
