"""Text transforms: trim and case, defaults and constants, templates, person names, e-mail, lists."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from leadbridge.mappings.transforms.base import Args, NoArgs, Transform, ValueProblem, is_empty, register


@register
class Trim(Transform[NoArgs]):
    """Strip surrounding white space; a blank string becomes empty (``None``). Both directions."""

    name = "trim"

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            return value.strip() or None
        return value

    outbound = inbound


class _Case(Transform[NoArgs]):
    """Change the case of text read from the remote side; written values are left as they are."""

    method: ClassVar[str] = ""

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        return getattr(value, self.method)() if isinstance(value, str) else value


@register
class Lower(_Case):
    """Lower-case text read from the remote side (``ACME`` → ``acme``)."""

    name = "lower"
    method = "lower"


@register
class Upper(_Case):
    """Upper-case text read from the remote side (``de`` → ``DE``)."""

    name = "upper"
    method = "upper"


@register
class Title(_Case):
    """Title-case text read from the remote side (``ANNA`` → ``Anna``)."""

    name = "title"
    method = "title"


class ValueArgs(Args):
    value: Any


@register
class Default(Transform[ValueArgs]):
    """Fill an empty value with ``value`` (in both directions, at its place in the chain)."""

    name = "default"
    args_model = ValueArgs
    primary = "value"
    handles_none = True

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if is_empty(value):
            return self.args.value
        return value

    outbound = inbound


@register
class Constant(Transform[ValueArgs]):
    """Always ``value``, whatever the record says (e.g. ``LeadSource: Partner Referral`` on push)."""

    name = "constant"
    args_model = ValueArgs
    primary = "value"
    handles_none = True

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        return self.args.value

    outbound = inbound


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def parse_template(text: str) -> list[tuple[bool, str]]:
    """Split a template into ``(is_field, text)`` parts; ``{{``/``}}`` are literal braces.

    The syntax is fixed: ``{field}`` names a field, nothing else is interpreted (no format specs,
    no expressions). Raises ``ValueError`` for a lone brace or a malformed field name.
    """
    parts: list[tuple[bool, str]] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append((False, text[position : match.start()]))
        token = match.group(0)
        if token in ("{{", "}}"):
            parts.append((False, token[0]))
        elif match.group(1) is None:
            raise ValueError(f"lone {token!r} at position {match.start()}: write {token * 2} for a brace")
        elif not _FIELD_NAME.match(match.group(1)):
            raise ValueError(f"{{{match.group(1)}}} is not a field name: templates only join fields")
        else:
            parts.append((True, match.group(1)))
        position = match.end()
    if position < len(text):
        parts.append((False, text[position:]))
    return parts


class TemplateArgs(Args):
    format: str

    @field_validator("format")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_template(value)
        return value


@register
class Template(Transform[TemplateArgs]):
    """Build the value by joining fields: ``"{first_name} {last_name}"``. Runs of white space collapse
    and an all-empty result is empty. Placeholders name fields of the record being read (remote
    fields inbound, canonical paths outbound)."""

    name = "template"
    args_model = TemplateArgs
    primary = "format"
    handles_none = True

    def __init__(self, args: TemplateArgs) -> None:
        super().__init__(args)
        self.parts = parse_template(args.format)

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        text = "".join(
            (str(v) if (v := source.get(part)) is not None else "") if is_field else part
            for is_field, part in self.parts
        )
        return " ".join(text.split()) or None

    outbound = inbound

    def reads(self) -> list[str]:
        return [part for is_field, part in self.parts if is_field]


Order = Literal["first_last", "last_first"]


class SplitArgs(Args):
    part: Literal["first", "last"]
    order: Order = "first_last"


@register
class SplitName(Transform[SplitArgs]):
    """Take the first or last name out of a full name (inbound only).

    ``first_last``: the last word is the last name (``Anna Maria Muster`` → ``Anna Maria`` /
    ``Muster``); ``last_first``: ``Muster, Anna Maria``. A one-word name is a last name.
    """

    name = "split_name"
    args_model = SplitArgs
    primary = "part"
    directions = frozenset({"in"})

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        text = " ".join(str(value).split())
        if self.args.order == "last_first" and "," in text:
            last, first = (piece.strip() for piece in text.split(",", 1))
        elif " " in text:
            first, last = text.rsplit(" ", 1)
        else:
            first, last = "", text
        return (first if self.args.part == "first" else last) or None


class JoinArgs(Args):
    first: str = "first_name"
    last: str = "last_name"
    order: Order = "first_last"


@register
class JoinName(Transform[JoinArgs]):
    """Build a full name from first and last name fields (the inverse of ``split_name``)."""

    name = "join_name"
    args_model = JoinArgs
    primary = "order"
    handles_none = True

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        first, last = source.get(self.args.first), source.get(self.args.last)
        if self.args.order == "last_first" and first and last:
            return f"{last}, {first}"
        return " ".join(str(part) for part in (first, last) if part) or None

    outbound = inbound

    def reads(self) -> list[str]:
        return [self.args.first, self.args.last]


@register
class Email(Transform[NoArgs]):
    """Normalise an e-mail address read from the remote side: trim, drop ``mailto:``, lower-case."""

    name = "email"

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if not isinstance(value, str):
            raise ValueProblem(f"expected an e-mail address, got {type(value).__name__}")
        text = value.strip()
        if text[:7].lower() == "mailto:":
            text = text[7:]
        return text.lower() or None


class ListArgs(Args):
    separator: str = Field(default=";", min_length=1)


@register
class List(Transform[ListArgs]):
    """A multi-select value: ``"a;b"`` on the remote side, ``["a", "b"]`` in leadbridge."""

    name = "list"
    args_model = ListArgs
    primary = "separator"

    def __init__(self, args: ListArgs) -> None:
        super().__init__(args)
        self.separator = args.separator

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if value.__class__ is str and " " not in value:  # the usual "a;b": nothing to strip
            items = value.split(self.separator)
            return ([item for item in items if item] if "" in items else items) or None
        items = value if isinstance(value, list) else str(value).split(self.args.separator)
        return [text for item in items if (text := str(item).strip())] or None

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        items = value if isinstance(value, list | tuple) else [value]
        return self.args.separator.join(str(item) for item in items) or None
