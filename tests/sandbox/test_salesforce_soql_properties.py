"""Property tests: the SOQL evaluator agrees with a plain reference implementation of SOQL semantics."""

from __future__ import annotations

import functools
import operator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadbridge.sandbox.salesforce.evaluate import compile_where, sort_rows
from leadbridge.sandbox.salesforce.soql import OrderItem, parse

_TYPES = {"Num": "int", "Name": "string"}
records = st.lists(
    st.fixed_dictionaries(
        {"Num": st.none() | st.integers(-3, 3), "Name": st.none() | st.sampled_from(["a", "B", "b", "C"])}
    ),
    max_size=12,
)
orders = st.lists(
    st.builds(OrderItem, st.sampled_from(["Num", "Name"]), st.booleans(), st.booleans()),
    min_size=1,
    max_size=2,
)


def _resolve(path: str) -> tuple[str, Any]:
    return _TYPES[path], lambda r: r.get(path)


def _reference_compare(order: list[OrderItem], a: dict[str, Any], b: dict[str, Any]) -> int:
    for item in order:
        x, y = a[item.path], b[item.path]
        if isinstance(x, str):
            x = x.lower()
        if isinstance(y, str):
            y = y.lower()
        if x == y:
            continue
        if x is None:
            return -1 if item.nulls_first else 1
        if y is None:
            return 1 if item.nulls_first else -1
        result = -1 if x < y else 1
        return -result if item.descending else result
    return 0


@settings(max_examples=150, deadline=None)
@given(records, orders)
def test_order_by_matches_reference(rows, order):
    expected = sorted(rows, key=functools.cmp_to_key(functools.partial(_reference_compare, order)))
    keys = [item.path for item in order]
    project = operator.itemgetter(*keys)
    assert [project(r) for r in sort_rows(rows, order, _resolve)] == [project(r) for r in expected]


_OPS = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


@settings(max_examples=150, deadline=None)
@given(records, st.sampled_from(sorted(_OPS)), st.integers(-3, 3) | st.none(), st.sampled_from(["AND", "OR"]))
def test_where_matches_reference(rows, op, value, joiner):
    literal = "null" if value is None else str(value)
    if value is None and op not in ("=", "!="):
        return  # a malformed comparison, covered elsewhere
    query = parse(f"SELECT Id FROM Lead WHERE Num {op} {literal} {joiner} Name LIKE 'b%'")
    assert query.where is not None
    predicate = compile_where(query.where, _resolve)

    def num_matches(r: dict[str, Any]) -> bool:
        current = r["Num"]
        if value is None:
            return (current is None) == (op == "=")
        if current is None:
            return op == "!="  # SOQL: != keeps nulls, every other comparison drops them
        return bool(_OPS[op](current, value))

    def name_matches(r: dict[str, Any]) -> bool:
        return r["Name"] is not None and r["Name"].lower().startswith("b")

    combine = (lambda a, b: a and b) if joiner == "AND" else (lambda a, b: a or b)
    assert [predicate(r) for r in rows] == [combine(num_matches(r), name_matches(r)) for r in rows]
