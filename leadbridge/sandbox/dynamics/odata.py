"""OData v4 query options as Dataverse applies them: ``$filter`` (comparisons, ``and``/``or``/``not``,
parentheses, ``contains``/``startswith``/``endswith``), ``$select``, ``$orderby``.

Literals are typed as OData writes them: ``'text'`` (quote doubled inside), numbers, ``true``/
``false``/``null``, and unquoted date-times (``2024-05-01T00:00:00Z``) and GUIDs. String
comparisons are case-insensitive, like Dataverse's default collation. A malformed filter is a
``QueryError`` (400 ``0x80060888``).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<dt>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))"
    r"|(?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_./]*)|(?P<punct>[(),]))"
)
_COMPARE = {"eq", "ne", "gt", "ge", "lt", "le"}
_FUNCTIONS = {"contains", "startswith", "endswith"}


class QueryError(ValueError):
    """A query option Dataverse would refuse."""


def tokenize(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"Syntax error at position {position} in '{text}'.")
        position = match.end()
        kind = match.lastgroup or ""
        value: Any = match.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        elif kind == "dt":
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        elif kind == "guid":
            value = str(uuid.UUID(value))
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        elif kind == "name" and value in ("true", "false", "null"):
            kind, value = "lit", {"true": True, "false": False, "null": None}[value]
        tokens.append((kind, value))
    return tokens


def _normal(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _compare(op: str, left: Any, right: Any) -> bool:
    left, right = _normal(left), _normal(right)
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        return {"gt": left > right, "ge": left >= right, "lt": left < right, "le": left <= right}[op]
    except TypeError:
        raise QueryError(f"cannot compare {left!r} with {right!r}") from None


class _Parser:
    def __init__(self, tokens: list[tuple[str, Any]], columns: Mapping[str, str]) -> None:
        self.tokens, self.position, self.columns = tokens, 0, columns

    def peek(self) -> tuple[str, Any] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        if token is None:
            raise QueryError("The query ended unexpectedly.")
        self.position += 1
        return token

    def expect(self, punct: str) -> None:
        kind, value = self.take()
        if (kind, value) != ("punct", punct):
            raise QueryError(f"Expected '{punct}' but found '{value}'.")

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise QueryError(f"Syntax error: unexpected '{self.peek()[1]}'.")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == ("name", "or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda row: any(p(row) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.peek() == ("name", "and"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda row: all(p(row) for p in parts))

    def unary(self) -> Predicate:
        if self.peek() == ("name", "not"):
            self.take()
            inner = self.unary()
            return lambda row: not inner(row)
        if self.peek() == ("punct", "("):
            self.take()
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.comparison()

    def column(self, name: str) -> str:
        if name not in self.columns:
            raise QueryError(
                f"Could not find a property named '{name}' on type 'Microsoft.Dynamics.CRM.entity'."
            )
        return name

    def literal(self, column: str) -> Any:
        kind, value = self.take()
        if kind not in ("str", "dt", "guid", "num", "lit"):
            raise QueryError(f"Expected a literal but found '{value}'.")
        if self.columns.get(column) == "DateTime" and kind == "str":
            raise QueryError(
                "A binary operator with incompatible types was detected: "
                f"'Edm.DateTimeOffset' and 'Edm.String' for '{column}'."
            )
        return value

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "name":
            raise QueryError(f"Expected a property name but found '{name}'.")
        if name in _FUNCTIONS:
            self.expect("(")
            _, field_name = self.take()
            column = self.column(field_name)
            self.expect(",")
            kind, needle = self.take()
            if kind != "str":
                raise QueryError(f"{name} needs a string literal.")
            self.expect(")")
            test = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[
                name
            ]
            return lambda row: (
                isinstance(row.get(column), str) and test(row[column].casefold(), needle.casefold())
            )
        column = self.column(name)
        _, op = self.take()
        if op not in _COMPARE:
            raise QueryError(f"Unknown operator '{op}'.")
        value = self.literal(column)
        return lambda row: _compare(op, row.get(column), value)


def compile_filter(text: str, columns: Mapping[str, str]) -> Predicate:
    """A predicate over stored rows; ``columns`` maps the table's column names to their types."""
    return _Parser(tokenize(text), columns).parse()


def sql_guid_key(value: str) -> tuple[str, ...]:
    """SQL Server's ``uniqueidentifier`` order: the last six bytes weigh most (a Dataverse ``$orderby``
    on an id is therefore not the order of the GUID text)."""
    text = str(value)
    return (text[24:36], text[19:23], text[14:18], text[9:13], text[0:8])


def order_key(orderby: str | None, id_column: str, columns: Mapping[str, str]) -> Callable[[Row], Any]:
    """The sort key of ``$orderby`` (``col [asc|desc], …``); ties end on the primary id."""
    terms: list[tuple[str, bool]] = []
    for part in (orderby or "").split(","):
        words = part.split()
        if not words:
            continue
        if words[0] not in columns or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise QueryError(f"Invalid $orderby term '{part.strip()}'.")
        terms.append((words[0], len(words) == 2 and words[1] == "desc"))

    def value_of(row: Row, name: str) -> Any:
        value = row.get(name)
        if name == id_column or columns.get(name) in ("Uniqueidentifier", "Lookup", "Owner"):
            value = sql_guid_key(value) if value else ()
        return (value is not None, _normal(value) if value is not None else 0)  # nulls first

    def compare(left: Row, right: Row) -> int:
        for name, desc in terms:
            a, b = value_of(left, name), value_of(right, name)
            if a != b:
                return (1 if a > b else -1) * (-1 if desc else 1)
        a, b = sql_guid_key(left[id_column]), sql_guid_key(right[id_column])
        return (a > b) - (a < b)

    return functools.cmp_to_key(compare)
