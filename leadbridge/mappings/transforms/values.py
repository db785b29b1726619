"""Value transforms: picklist value maps, booleans, numbers and currency amounts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import Field, model_validator

from leadbridge.mappings.canonical import CanonicalField
from leadbridge.mappings.transforms.base import Args, Transform, ValueProblem, register


def _key(value: Any) -> str:
    """The text a value map compares: enum members by value, booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(getattr(value, "value", value))


class ValueMapArgs(Args):
    values: dict[str, Any] = Field(min_length=1)
    unknown: Literal["error", "default", "pass", "empty"] = "error"
    default: Any = None
    reverse: dict[str, Any] = Field(default_factory=dict)
    reverse_default: Any = None
    ignore_case: bool = True

    @model_validator(mode="after")
    def _default_given(self) -> ValueMapArgs:
        if self.unknown == "default" and self.default is None:
            raise ValueError("unknown: default needs a 'default' value")
        return self


@register
class ValueMap(Transform[ValueMapArgs]):
    """Translate picklist values: ``values`` maps remote → canonical; the reverse direction uses
    ``reverse`` (canonical → remote) and otherwise the first remote value listed for a canonical one.

    ``unknown`` says what happens to a value the map does not know: ``error`` (the record is
    quarantined), ``default`` (``default`` inbound, ``reverse_default`` — or the value itself —
    outbound), ``pass`` (kept as it is) or ``empty`` (no value: for a field that only some
    remote values speak about, such as an outcome read from a status picklist).
    """

    name = "value_map"
    args_model = ValueMapArgs

    def __init__(self, args: ValueMapArgs) -> None:
        super().__init__(args)
        self.ignore_case = args.ignore_case
        self.fold = str.casefold if args.ignore_case else str
        self.forward = {self.fold(k): v for k, v in args.values.items()}
        backward: dict[str, Any] = {}
        for remote, canonical in args.values.items():
            backward.setdefault(_key(canonical), remote)
        backward.update({k: v for k, v in args.reverse.items()})
        self.backward = backward

    def _unknown(self, value: Any, default: Any, known: list[str]) -> Any:
        if self.args.unknown == "pass":
            return value
        if self.args.unknown == "empty":
            return None
        if self.args.unknown == "default":
            return value if default is None else default
        shown = ", ".join(known[:12]) + (", …" if len(known) > 12 else "")
        raise ValueProblem(f"unmapped value {value!r} (mapped: {shown})")

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        try:
            if value.__class__ is str:  # picklist values are text: skip the key normalisation
                return self.forward[value.casefold() if self.ignore_case else value]
            return self.forward[self.fold(_key(value))]
        except KeyError:
            return self._unknown(value, self.args.default, list(self.args.values))

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        try:
            return self.backward[_key(value)]
        except KeyError:
            return self._unknown(value, self.args.reverse_default, list(self.backward))

    def problems(self, field: CanonicalField | None) -> list[str]:
        """Targets must be values of an enum field; with ``unknown: error`` the map must be total."""
        if field is None or not field.choices:
            return []
        problems = []
        targets = [_key(v) for v in (*self.args.values.values(), self.args.default) if v is not None]
        targets += list(self.args.reverse)
        for target in dict.fromkeys(targets):
            if target not in field.choices:
                problems.append(
                    f"value_map: {target!r} is not a value of {field.path} ({', '.join(field.choices)})"
                )
        if self.args.unknown == "error":
            missing = [choice for choice in field.choices if choice not in self.backward]
            if missing:
                problems.append(
                    f"value_map is not total: no remote value for {field.path} "
                    f"{', '.join(map(repr, missing))} (add them, or set unknown: default, pass or empty)"
                )
        return problems


_TRUE = {"true", "1", "yes", "y", "on", "ja", "x", "checked"}
_FALSE = {"false", "0", "no", "n", "off", "nein", "", "unchecked"}


class BooleanArgs(Args):
    negate: bool = False
    as_string: bool = False


@register
class Boolean(Transform[BooleanArgs]):
    """A yes/no value: accepts booleans, ``true/false``, ``1/0``, ``yes/no``, ``ja/nein``, ``on/off``.
    ``negate`` flips it (``HasOptedOutOfEmail`` → ``consent.marketing``); ``as_string`` writes
    ``"true"``/``"false"`` (HubSpot)."""

    name = "boolean"
    args_model = BooleanArgs

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if value.__class__ is bool:
            result = value
        else:
            text = str(value).strip().casefold()
            if text in _TRUE:
                result = True
            elif text in _FALSE:
                result = False
            else:
                raise ValueProblem(f"{value!r} is not a yes/no value")
        return result != self.args.negate

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        result = self.inbound(value, source, target)
        return ("true" if result else "false") if self.args.as_string else result


_GROUPING = re.compile(r"[\s'\u00a0\u202f]")  # spaces and apostrophes group thousands


class NumberArgs(Args):
    type: Literal["integer", "float", "decimal"] = "float"
    places: int | None = Field(default=None, ge=0, le=12)
    as_string: bool = False
    decimal_comma: bool = False


@register
class Number(Transform[NumberArgs]):
    """A number: JSON numbers or text (``"1,234.5"``; ``decimal_comma`` for ``"1.234,5"``).
    ``type`` is the canonical type; ``places`` rounds decimals; ``as_string`` writes text (HubSpot)."""

    name = "number"
    args_model = NumberArgs
    primary = "type"

    def _parse(self, value: Any) -> Decimal:
        if isinstance(value, bool):
            raise ValueProblem(f"expected a number, got {value!r}")
        if isinstance(value, int | Decimal):
            return Decimal(value)
        if isinstance(value, float):
            return Decimal(repr(value))  # the shortest text that round-trips, not binary noise
        text = _GROUPING.sub("", str(value))
        text = text.replace(".", "").replace(",", ".") if self.args.decimal_comma else text.replace(",", "")
        try:
            return Decimal(text)
        except InvalidOperation:
            raise ValueProblem(f"{value!r} is not a number") from None

    def __init__(self, args: NumberArgs) -> None:
        super().__init__(args)
        self.kind = args.type
        # Fast paths for what Salesforce JSON already carries (numbers), the bulk of a pull.
        self.as_is: tuple[type, ...] = ()
        if args.type == "integer":
            self.as_is = (int,)
        elif args.type == "float" and args.places is None:
            self.as_is = (int, float)
        self.quantum = None if args.places is None else Decimal(1).scaleb(-args.places)

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if type(value) in self.as_is:
            return value * 1.0 if self.kind == "float" else value
        kind = self.kind
        if kind == "decimal" and type(value) is int:  # whole amounts need no rounding
            return Decimal(value)
        number = self._parse(value)
        if not number.is_finite():
            raise ValueProblem(f"{value!r} is not a finite number")
        if kind == "integer":
            if number != number.to_integral_value():
                raise ValueProblem(f"{value!r} is not a whole number")
            return int(number)
        if self.quantum is not None:
            number = number.quantize(self.quantum)
        return float(number) if kind == "float" else number

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        number = self.inbound(value, source, target)
        if self.args.as_string:
            return str(number)
        if isinstance(number, Decimal):  # JSON has no decimals: whole amounts stay exact as ints
            return int(number) if number == number.to_integral_value() else float(number)
        return number


class CurrencyArgs(Args):
    places: int = Field(default=2, ge=0, le=6)
    as_string: bool = False
    decimal_comma: bool = False


@register
class Currency(Transform[CurrencyArgs]):
    """A money amount as a decimal rounded to ``places``; symbols and codes (``€``, ``EUR``) are
    dropped on the way in (the currency itself is a separate field)."""

    name = "currency"
    args_model = CurrencyArgs
    primary = "places"

    def __init__(self, args: CurrencyArgs) -> None:
        super().__init__(args)
        self.number = Number(NumberArgs(type="decimal", **args.model_dump()))

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        if isinstance(value, str):
            value = re.sub(r"[A-Za-z€$£¥\s]", "", value)
        return self.number.inbound(value, source, target)

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        return self.number.outbound(value, source, target)
