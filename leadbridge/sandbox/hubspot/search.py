"""CRM search (``POST /crm/v3/objects/{obj}/search``): request checks, filter evaluation, paging.

Rules (crm-api-notes §4.2): filters within a group are ANDed, groups are ORed; at most 5 groups,
6 filters per group and 18 in total; one sort; ``limit`` ≤ 200 (default 10); ``after`` is an integer
offset as a string; at most 10,000 results per query (``after`` ≥ 10,000 → 400); a body of at most
3,000 characters. Comparison follows the property's type: numbers numerically, dates as epoch ms
(epoch-ms strings or ISO 8601), enumerations case-sensitively, everything else case-insensitively;
``IN``/``NOT_IN`` values for strings must already be lower-case, as on HubSpot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from leadbridge.sandbox.hubspot.catalogue import Catalogue, PropertyDef
from leadbridge.sandbox.hubspot.errors import validation_error
from leadbridge.sandbox.hubspot.objects import ObjectType, parse_moment
from leadbridge.sandbox.hubspot.store import Record

OPERATORS = frozenset(
    [
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    ]
)
# Operators that match a record lacking the property (the negative ones).
_MATCH_MISSING = frozenset({"NEQ", "NOT_IN", "NOT_HAS_PROPERTY", "NOT_CONTAINS_TOKEN"})

# associations.<type> filters ask this: (record id, associated object type) → associated ids.
AssociatedIds = Callable[[str, str], set[str]]


@dataclass(frozen=True)
class SearchLimits:
    """The search limits of one portal (configurable: HubSpot changed them over time)."""

    max_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18
    max_page: int = 200
    max_results: int = 10_000
    max_body_chars: int = 3_000


@dataclass(frozen=True)
class Filter:
    property: str
    operator: str
    value: str | None = None
    high_value: str | None = None
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchRequest:
    groups: tuple[tuple[Filter, ...], ...]
    sort: tuple[str, bool] | None  # (property, descending)
    properties: tuple[str, ...] | None
    limit: int
    offset: int
    query: str


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _filter(raw: dict[str, Any]) -> Filter:
    operator, name = raw.get("operator"), raw.get("propertyName")
    if operator not in OPERATORS:
        raise validation_error(f"Invalid filter operator '{operator}'")
    if not name:
        raise validation_error("A filter needs a propertyName")
    value, high = _text(raw.get("value")), _text(raw.get("highValue"))
    values = tuple(str(v) for v in raw.get("values") or ())
    if operator in ("IN", "NOT_IN") and not values:
        raise validation_error(f"{operator} filter on {name} needs 'values'")
    if operator == "BETWEEN" and (value is None or high is None):
        raise validation_error(f"BETWEEN filter on {name} needs 'value' and 'highValue'")
    needs_value = operator not in ("IN", "NOT_IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "BETWEEN")
    if needs_value and value is None:
        raise validation_error(f"{operator} filter on {name} needs a 'value'")
    return Filter(str(name), operator, value, high, values)


def _sort(raw: Any) -> tuple[str, bool]:
    # The client's model types sorts as list[str] but sends dicts unchanged: accept both.
    if isinstance(raw, str):
        return (raw[1:], True) if raw.startswith("-") else (raw, False)
    if isinstance(raw, dict) and raw.get("propertyName"):
        direction = str(raw.get("direction") or "ASCENDING").upper()
        if direction not in ("ASCENDING", "DESCENDING"):
            raise validation_error(f"Invalid sort direction '{direction}'")
        return str(raw["propertyName"]), direction == "DESCENDING"
    raise validation_error(f"Invalid sort {raw!r}")


def parse_request(body: bytes, limits: SearchLimits) -> SearchRequest:
    """Check a search body against the limits and parse it; every violation is a 400."""
    if len(body.decode("utf-8", "replace")) > limits.max_body_chars:
        raise validation_error(f"The search request body must be at most {limits.max_body_chars} characters")
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        raise validation_error("Invalid input JSON on line 1") from None
    groups = tuple(
        tuple(_filter(f) for f in group.get("filters") or ()) for group in data.get("filterGroups") or ()
    )
    if len(groups) > limits.max_groups:
        raise validation_error(f"Too many filter groups ({len(groups)} > {limits.max_groups})")
    if any(len(group) > limits.max_filters_per_group for group in groups):
        raise validation_error(f"Too many filters in a group (max {limits.max_filters_per_group})")
    if sum(len(group) for group in groups) > limits.max_filters_total:
        raise validation_error(f"Too many filters in total (max {limits.max_filters_total})")
    sorts = data.get("sorts") or []
    if len(sorts) > 1:
        raise validation_error("Only one sort is allowed")
    limit = int(data.get("limit") or 10)
    if not 1 <= limit <= limits.max_page:
        raise validation_error(f"limit must be between 1 and {limits.max_page}")
    after = str(data.get("after") or "0")
    if not after.isdigit():
        raise validation_error(f"after must be an integer offset, got '{after}'")
    offset = int(after)
    if offset >= limits.max_results:
        raise validation_error(
            f"The maximum number of results that can be paged through is {limits.max_results}; "
            "narrow the filters (e.g. a later last-modified date) instead of paging further"
        )
    properties = data.get("properties")
    return SearchRequest(
        groups=groups,
        sort=_sort(sorts[0]) if sorts else None,
        properties=tuple(properties) if properties else None,
        limit=limit,
        offset=offset,
        query=str(data.get("query") or ""),
    )


# -- evaluation ---------------------------------------------------------------------------------
def _typed(prop: PropertyDef | None, value: str) -> Any:
    """A value in the domain it is compared in (number, epoch ms or case-folded text)."""
    kind = prop.type if prop else "string"
    if kind == "number":
        try:
            return float(value)
        except ValueError:
            return None
    if kind in ("date", "datetime"):
        return parse_moment(value)
    if kind == "enumeration":
        return value
    return value.lower()


def _tokens(value: str) -> list[str]:
    return [value.lower(), *re.findall(r"\w+", value.lower())]


def _token_match(pattern: str, value: str) -> bool:
    regex = re.compile(".*".join(re.escape(part) for part in pattern.lower().split("*")))
    return any(regex.fullmatch(token) for token in _tokens(value))


def _compare(prop: PropertyDef | None, stored: str, f: Filter) -> bool:
    op = f.operator
    if op == "HAS_PROPERTY":
        return True
    if op == "NOT_HAS_PROPERTY":
        return False
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        return _token_match(f.value or "", stored) == (op == "CONTAINS_TOKEN")
    if op in ("IN", "NOT_IN"):
        # HubSpot lower-cases stored strings but not the values you send (hence "must be lowercase").
        kind = prop.type if prop else "string"
        if kind in ("number", "date", "datetime"):
            hit = any(_typed(prop, stored) == _typed(prop, v) for v in f.values)
        else:
            hit = _typed(prop, stored) in f.values
        return hit == (op == "IN")
    left, right = _typed(prop, stored), _typed(prop, f.value or "")
    if left is None or right is None:
        return op == "NEQ"
    if op == "BETWEEN":
        high = _typed(prop, f.high_value or "")
        return high is not None and right <= left <= high
    return {
        "EQ": left == right,
        "NEQ": left != right,
        "LT": left < right,
        "LTE": left <= right,
        "GT": left > right,
        "GTE": left >= right,
    }[op]


def _matches(record: Record, f: Filter, catalogue: Catalogue, kind: ObjectType, assoc: AssociatedIds) -> bool:
    if f.property.startswith("associations."):
        linked = assoc(record.id, f.property.split(".", 1)[1])
        if f.operator == "HAS_PROPERTY":
            return bool(linked)
        if f.operator == "NOT_HAS_PROPERTY":
            return not linked
        wanted = set(f.values) if f.operator in ("IN", "NOT_IN") else {f.value or ""}
        hit = bool(linked & wanted)
        return hit != (f.operator in ("NEQ", "NOT_IN"))
    stored = record.properties.get(f.property, "")
    if stored == "":
        return f.operator in _MATCH_MISSING
    return _compare(catalogue.get(kind.name, f.property), stored, f)


def _query_match(record: Record, words: list[str], kind: ObjectType) -> bool:
    tokens = [t for name in kind.searchable for t in _tokens(record.properties.get(name, ""))]
    return all(any(token.startswith(word) for token in tokens) for word in words)


def run(
    records: Iterable[Record],
    request: SearchRequest,
    catalogue: Catalogue,
    kind: ObjectType,
    limits: SearchLimits,
    associated: AssociatedIds,
) -> tuple[int, list[Record], str | None]:
    """Evaluate a search: (total matches, this page's records, next ``after`` or None)."""
    words = request.query.lower().split()
    hits = [
        record
        for record in records
        if (
            not request.groups
            or any(
                all(_matches(record, f, catalogue, kind, associated) for f in group)
                for group in request.groups
            )
        )
        and (not words or _query_match(record, words, kind))
    ]
    if request.sort is None:
        hits.sort(key=lambda r: (r.created_at, int(r.id)))  # creation order, oldest first
    else:
        name, descending = request.sort
        prop = catalogue.get(kind.name, name)
        hits.sort(key=lambda r: int(r.id))  # ties keep id order (stable sorts below)
        present = [r for r in hits if r.properties.get(name, "") != ""]
        missing = [r for r in hits if r.properties.get(name, "") == ""]
        present.sort(key=lambda r: _sort_key(prop, r.properties[name]), reverse=descending)
        hits = present + missing
    total = len(hits)
    end = min(request.offset + request.limit, limits.max_results)
    page = hits[request.offset : end]
    following = request.offset + request.limit
    return total, page, (str(following) if following < total else None)


def _sort_key(prop: PropertyDef | None, value: str) -> tuple[int, Any]:
    typed = _typed(prop, value)
    return (1, value.lower()) if typed is None else (0, typed)
