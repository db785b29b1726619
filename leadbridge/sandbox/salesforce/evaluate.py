"""Compile parsed SOQL (``soql.Query``) into Python: a WHERE predicate and an ORDER BY sort.

Text compares case-insensitively (ids excepted), as in SOQL; literal types are checked against
the field type once, when the query is compiled (``INVALID_FIELD`` when they do not fit).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from leadbridge.sandbox.salesforce.errors import invalid_field, malformed_query
from leadbridge.sandbox.salesforce.soql import BoolOp, Expr, OrderItem
from leadbridge.sandbox.salesforce.values import id18

Getter = Callable[[dict[str, Any]], Any]
Resolver = Callable[[str], tuple[str, Getter]]  # path -> (field type, value getter)
_LITERAL_TYPES: dict[str, tuple[type, ...]] = {
    "boolean": (bool,),
    "date": (date,),
    "datetime": (datetime,),
    "int": (int, float),
    "double": (int, float),
    "currency": (int, float),
    "percent": (int, float),
}


def _check_literal(path: str, kind: str, value: Any) -> None:
    if value is None:
        return
    expected = _LITERAL_TYPES.get(kind, (str,))
    ok = isinstance(value, expected) and not (isinstance(value, bool) and bool not in expected)
    if not ok:
        quoted = "should be enclosed in quotes" if expected == (str,) else "should not be enclosed in quotes"
        raise invalid_field(
            f"value of filter criterion for field '{path}' must be of type {_TYPE_NAMES.get(kind, kind)} "
            f"and {quoted}"
        )


_TYPE_NAMES = {
    "datetime": "dateTime",
    "int": "double",
    "reference": "id",
    "picklist": "string",
    "textarea": "string",
}


def _folder(kind: str) -> Callable[[Any], Any]:
    """Text compares case-insensitively in SOQL, except ids."""
    if kind in ("id", "reference"):
        return lambda v: id18(v) if isinstance(v, str) and len(v) == 15 else v
    if kind in _LITERAL_TYPES:
        return lambda v: v
    return lambda v: v.lower() if isinstance(v, str) else v


def _like(pattern: str) -> re.Pattern[str]:
    parts, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            parts.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL)


def compile_where(expr: Expr, resolve: Resolver) -> Callable[[dict[str, Any]], bool]:
    """A predicate over records; field and literal types are checked now, not per record."""
    if isinstance(expr, BoolOp):
        parts = [compile_where(item, resolve) for item in expr.items]
        if expr.op == "and":
            return lambda r: all(p(r) for p in parts)
        if expr.op == "or":
            return lambda r: any(p(r) for p in parts)
        return lambda r: not parts[0](r)
    kind, get = resolve(expr.path)
    fold = _folder(kind)
    op, value = expr.op, expr.value
    if op in ("in", "notin", "includes", "excludes"):
        for item in value:
            _check_literal(expr.path, kind, item)
        if op in ("includes", "excludes"):
            if kind != "multipicklist":
                raise malformed_query(f"{op.upper()} or EXCLUDES operator only valid on multipicklist field")
            wanted = [frozenset(fold(p) for p in str(v).split(";")) for v in value]

            def has(r: dict[str, Any]) -> bool:
                current = frozenset(fold(p) for p in (get(r) or "").split(";") if p)
                return any(w <= current for w in wanted)

            return has if op == "includes" else (lambda r: not has(r))
        members = {fold(v) for v in value}
        if op == "in":
            return lambda r: fold(get(r)) in members
        return lambda r: fold(get(r)) not in members
    _check_literal(expr.path, kind, value)
    if op == "like":
        if not isinstance(value, str):
            raise invalid_field(f"invalid operator on field '{expr.path}' for a non-string value")
        regex = _like(value)
        return lambda r: isinstance(get(r), str) and regex.fullmatch(get(r)) is not None
    if value is None:
        if op not in ("=", "!="):
            raise malformed_query(f"invalid operator {op} for null value on field '{expr.path}'")
        return (lambda r: get(r) is None) if op == "=" else (lambda r: get(r) is not None)
    target = fold(value)
    compare: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    check = compare[op]
    if op == "!=":
        return lambda r: get(r) is None or check(fold(get(r)), target)
    return lambda r: (current := get(r)) is not None and check(fold(current), target)


def sort_rows(rows: list[dict[str, Any]], order: list[OrderItem], resolve: Resolver) -> list[dict[str, Any]]:
    """Stable multi-key sort honouring ASC/DESC and NULLS FIRST/LAST per key."""
    result = list(rows)
    for item in reversed(order):
        kind, get = resolve(item.path)
        fold = _folder(kind)
        # reverse=True flips null placement too, so the null rank depends on both flags.
        null_high = item.nulls_first == item.descending

        def key(
            r: dict[str, Any],
            get: Getter = get,
            fold: Callable[[Any], Any] = fold,
            null_high: bool = null_high,
        ) -> tuple[int, Any]:
            value = get(r)
            if value is None:
                return (1 if null_high else 0, None)
            return (0 if null_high else 1, fold(value))

        result.sort(key=key, reverse=item.descending)
    return result
