"""A SOQL subset: parse, then compile WHERE/ORDER BY into Python over the stand-in's records.

Supported (case-insensitive keywords and names)::

    SELECT COUNT() | field[, field…]          -- fields may be one-level relationships: Owner.Name
    FROM object
    [WHERE cond]                              -- = != <> < <= > >=, IN (…), NOT IN (…), LIKE,
                                              -- INCLUDES/EXCLUDES (…) on multi-picklists,
                                              -- AND, OR, NOT, parentheses, NULL, TRUE/FALSE,
                                              -- numbers, 'strings', date and date-time literals
    [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST][, …]]
    [LIMIT n] [OFFSET n]

Anything else (GROUP BY, aggregates other than COUNT(), date literals such as TODAY, bind
variables, sub-queries, TYPEOF, WITH, FOR …) is answered with ``MALFORMED_QUERY``, as Salesforce
answers queries it cannot parse, rather than silently mis-evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from leadbridge.sandbox.salesforce.errors import SalesforceApiError, malformed_query
from leadbridge.sandbox.salesforce.values import parse_datetime

_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))"
    r"|(?P<date>\d{4}-\d{2}-\d{2})"
    r"|(?P<number>-?\d+(?:\.\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)"
    r"|(?P<op><=|>=|!=|<>|=|<|>)"
    r"|(?P<punct>[(),])"
    r"|(?P<other>.)",
    re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "'": "'", '"': '"', "\\": "\\"}
_KEYWORDS = {
    "select",
    "from",
    "where",
    "and",
    "or",
    "not",
    "in",
    "like",
    "order",
    "by",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "limit",
    "offset",
    "true",
    "false",
    "null",
    "includes",
    "excludes",
}


@dataclass(frozen=True)
class Token:
    kind: str  # string | datetime | date | number | name | keyword | op | punct | end
    text: str
    value: Any
    position: int


@dataclass(frozen=True)
class Compare:
    path: str
    op: str  # = != < <= > >= in notin like includes excludes
    value: Any  # a literal, or a tuple of literals for the list operators


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or | not
    items: tuple[Expr, ...]


Expr = Compare | BoolOp


@dataclass(frozen=True)
class OrderItem:
    path: str
    descending: bool = False
    nulls_first: bool = True


@dataclass
class Query:
    """A parsed query. ``fields`` are paths as written; ``count_only`` for ``SELECT COUNT()``."""

    object_name: str
    fields: list[str] = field(default_factory=list)
    count_only: bool = False
    where: Expr | None = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def _unescape(raw: str) -> str:
    out, chars = [], iter(raw[1:-1])
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            if nxt in ("%", "_"):
                out.append("\\" + nxt)  # kept escaped: only LIKE patterns give them meaning
            elif nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            else:
                raise malformed_query(f"Invalid string literal '{raw}'. Illegal character sequence '\\{nxt}'")
        else:
            out.append(ch)
    return "".join(out)


def tokenize(text: str) -> list[Token]:
    """Split SOQL into tokens; an unknown character is MALFORMED_QUERY (``unexpected token``)."""
    tokens = []
    for match in _TOKEN.finditer(text):
        kind, raw = match.lastgroup or "other", match.group()
        if kind == "ws":
            continue
        if kind == "other":
            raise _unexpected(text, match.start(), raw)
        value: Any = raw
        if kind == "string":
            value = _unescape(raw)
        elif kind == "datetime":
            value = parse_datetime(raw)
            if value is None:
                raise malformed_query(f"line 1:{match.start()} no viable alternative at character '{raw}'")
        elif kind == "date":
            value = date.fromisoformat(raw)
        elif kind == "number":
            value = float(raw) if "." in raw else int(raw)
        elif kind == "name" and raw.lower() in _KEYWORDS:
            kind, value = "keyword", raw.lower()
        tokens.append(Token(kind, raw, value, match.start()))
    tokens.append(Token("end", "", None, len(text)))
    return tokens


def _unexpected(text: str, position: int, token: str) -> SalesforceApiError:
    pointer = " " * position + "^"
    return malformed_query(
        f"\n{text}\n{pointer}\nERROR at Row:1:Column:{position + 1}\nunexpected token: {token}"
    )


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def fail(self, token: Token | None = None) -> SalesforceApiError:
        token = token or self.peek
        return _unexpected(self.text, token.position, token.text or "<EOF>")

    def keyword(self, *words: str) -> bool:
        """Consume the keyword sequence if it is next."""
        if all(self._is_kw(self.tokens[self.index + i], w) for i, w in enumerate(words)):
            self.index += len(words)
            return True
        return False

    def expect(self, *words: str) -> None:
        if not self.keyword(*words):
            raise self.fail()

    @staticmethod
    def _is_kw(token: Token, word: str) -> bool:
        return token.kind == "keyword" and token.value == word

    def punct(self, char: str) -> bool:
        if self.peek.kind == "punct" and self.peek.text == char:
            self.index += 1
            return True
        return False

    def name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise self.fail(token)
        return token.text

    def parse(self) -> Query:
        self.expect("select")
        fields, count_only = [], False
        if (
            self.peek.kind == "name"
            and self.peek.text.lower() == "count"
            and self.tokens[self.index + 1].text == "("
        ):
            self.index += 2
            if not self.punct(")"):
                raise self.fail()  # COUNT(field) is an aggregate query: not supported
            count_only = True
        else:
            fields.append(self.name())
            while self.punct(","):
                fields.append(self.name())
        self.expect("from")
        query = Query(self.name(), fields, count_only)
        if self.keyword("where"):
            query.where = self.disjunction()
        if self.keyword("order", "by"):
            query.order.append(self.order_item())
            while self.punct(","):
                query.order.append(self.order_item())
        if self.keyword("limit"):
            query.limit = self.integer()
        if self.keyword("offset"):
            query.offset = self.integer()
        if self.peek.kind != "end":
            raise self.fail()
        return query

    def integer(self) -> int:
        token = self.take()
        if token.kind != "number" or not isinstance(token.value, int) or token.value < 0:
            raise self.fail(token)
        return int(token.value)

    def order_item(self) -> OrderItem:
        path = self.name()
        descending = self.keyword("desc")
        if not descending:
            self.keyword("asc")
        nulls_first = not descending  # Salesforce default: ASC NULLS FIRST, DESC NULLS LAST
        if self.keyword("nulls"):
            if self.keyword("first"):
                nulls_first = True
            else:
                self.expect("last")
                nulls_first = False
        return OrderItem(path, descending, nulls_first)

    def disjunction(self) -> Expr:
        items = [self.conjunction()]
        while self.keyword("or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else BoolOp("or", tuple(items))

    def conjunction(self) -> Expr:
        items = [self.negation()]
        while self.keyword("and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else BoolOp("and", tuple(items))

    def negation(self) -> Expr:
        if self.keyword("not"):
            return BoolOp("not", (self.negation(),))
        if self.punct("("):
            inner = self.disjunction()
            if not self.punct(")"):
                raise self.fail()
            return inner
        return self.comparison()

    def comparison(self) -> Expr:
        path = self.name()
        token = self.peek
        if token.kind == "op":
            self.index += 1
            op = {"<>": "!="}.get(token.text, token.text)
            return Compare(path, op, self.literal())
        if self.keyword("like"):
            return Compare(path, "like", self.literal())
        for words, op in (
            (("not", "in"), "notin"),
            (("in",), "in"),
            (("includes",), "includes"),
            (("excludes",), "excludes"),
        ):
            if self.keyword(*words):
                return Compare(path, op, self.literal_list())
        raise self.fail()

    def literal_list(self) -> tuple[Any, ...]:
        if not self.punct("("):
            raise self.fail()
        values = [self.literal()]
        while self.punct(","):
            values.append(self.literal())
        if not self.punct(")"):
            raise self.fail()
        return tuple(values)

    def literal(self) -> Any:
        token = self.take()
        if token.kind in ("string", "datetime", "date", "number"):
            return token.value
        if token.kind == "keyword" and token.value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[token.value]
        raise self.fail(token)


def parse(text: str) -> Query:
    """Parse SOQL text; ``MALFORMED_QUERY`` for anything outside the subset."""
    return _Parser(text).parse()
