"""The transform contract and the closed registry of named transforms.

A transform describes how a value is represented on the *remote* side. It converts in both
directions: ``inbound`` (remote → canonical, used by ``in``) and ``outbound`` (canonical → remote,
used by ``out``). A chain ``[a, b]`` applies ``a`` then ``b`` inbound and ``b`` then ``a`` outbound,
so one chain describes both directions. Arguments are validated by a pydantic model per transform;
there is no expression language and no ``eval``: the registry below is everything there is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from leadbridge.mappings.canonical import CanonicalField


class ValueProblem(ValueError):
    """A value a transform cannot convert; the plan adds the field name and quarantines the record."""


class Args(BaseModel):
    """Base of every transform's arguments: unknown arguments are an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(Args):
    pass


A = TypeVar("A", bound=Args)


class Transform(Generic[A]):
    """One named conversion. Subclasses set ``name``, ``Args`` and override what they change.

    ``source`` is the record being read (remote fields inbound, canonical paths outbound) and
    ``target`` the record being built, so a transform can see other fields (templates read the
    source; ``phone`` reads the lead's country). ``None`` never reaches a transform unless
    ``handles_none`` is set: an empty value stays empty.
    """

    name: ClassVar[str] = ""
    directions: ClassVar[frozenset[str]] = frozenset({"in", "out"})
    args_model: ClassVar[type[Args]] = NoArgs
    primary: ClassVar[str | None] = None  # the argument a scalar shorthand (``{date: epoch_ms}``) sets
    handles_none: ClassVar[bool] = False
    # Set when inbound output depends on fields mapped by other entries (run those first).
    reads_target: ClassVar[bool] = False

    def __init__(self, args: A) -> None:
        self.args = args

    def inbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        return value

    def outbound(self, value: Any, source: Mapping[str, Any], target: Mapping[str, Any]) -> Any:
        return value

    def problems(self, field: CanonicalField | None) -> list[str]:
        """Load-time problems of these arguments for this canonical field (``None``: record-built)."""
        return []

    def reads(self) -> list[str]:
        """Fields of the source record this transform reads besides the mapped one (templates)."""
        return []


T = TypeVar("T", bound="Transform[Any]")

REGISTRY: dict[str, type[Transform[Any]]] = {}


def register(cls: type[T]) -> type[T]:
    """Class decorator adding a transform to the closed registry under its ``name``."""
    if not cls.name or cls.name in REGISTRY:
        raise RuntimeError(f"transform name {cls.name!r} is empty or taken")
    REGISTRY[cls.name] = cls
    return cls


def is_empty(value: Any) -> bool:
    """The rule for "no value": ``None`` or a blank string (CRMs send ``""`` for cleared fields)."""
    return value is None or (isinstance(value, str) and not value.strip())
