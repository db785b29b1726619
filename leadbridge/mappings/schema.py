"""What a mapping file says, as validated data.

One YAML file per connection and object::

    system: salesforce            # salesforce | hubspot
    object: Lead                  # the remote object
    role: manufacturer            # manufacturer (pull + write-back) | partner (push + status back)
    key: Id                       # the remote record id field
    stamp: SystemModstamp         # the remote modification stamp (optional)
    fields:
      - canonical: first_name     # a canonical path (see canonical.py)
        in: FirstName             # remote field read (shorthand for {field: FirstName})
        out: FirstName            # remote field written
        transform: trim           # shared chain: listed order inbound, reverse order outbound
        required: false
        owner: manufacturer       # manufacturer | partner | leadbridge (default: the field's)
        blind: false              # partner role: sent before the partner accepts

``in``/``out`` may carry their own ``transform``, which replaces the shared chain for that side and
runs in listed order in that side's direction. The pydantic models below check the shape; the
loader checks meaning (known fields and transforms, argument types, totality) and reports lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from leadbridge.mappings.canonical import Owner
from leadbridge.mappings.transforms import Transform
from leadbridge.ports.accounts import PerformanceSection

IN, OUT = "in", "out"


class SideModel(BaseModel):
    """One direction of an entry: the remote field and, optionally, that side's own transforms."""

    model_config = ConfigDict(extra="forbid")

    field: str | None = Field(default=None, min_length=1)
    transform: Any = None


def _side(value: Any) -> Any:
    return {"field": value} if isinstance(value, str) else value


class EntryModel(BaseModel):
    """One line of the ``fields`` list."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    canonical: str | None = None
    inbound: SideModel | None = Field(default=None, alias="in")
    outbound: SideModel | None = Field(default=None, alias="out")
    transform: Any = None
    required: bool = False
    owner: Owner | None = None
    blind: bool = False

    _as_side = field_validator("inbound", "outbound", mode="before")(_side)


class FileModel(BaseModel):
    """The top level of a mapping file."""

    model_config = ConfigDict(extra="forbid")

    system: str = Field(min_length=1)  # the connector kind; checked when a connection uses the file
    object: str = Field(min_length=1)
    role: Literal["manufacturer", "partner"]
    key: str = Field(min_length=1)
    stamp: str | None = None
    description: str = ""
    fields: list[Any] = Field(min_length=1)
    partner_performance: Any = None  # mappings/performance.py checks it


@dataclass(frozen=True)
class Step:
    """One transform in a side's chain, in execution order."""

    transform: Transform[Any]
    line: int

    @property
    def name(self) -> str:
        return self.transform.name


@dataclass(frozen=True)
class Side:
    direction: str  # IN or OUT
    field: str | None
    steps: tuple[Step, ...]
    line: int


@dataclass(frozen=True)
class FieldMapping:
    canonical: str | None
    inbound: Side | None
    outbound: Side | None
    required: bool
    owner: Owner
    blind: bool
    line: int


@dataclass(frozen=True)
class Mapping:
    """A loaded, validated mapping; ``source`` is the file it came from (for messages)."""

    system: str
    object: str
    role: str
    key: str
    stamp: str | None
    description: str
    fields: tuple[FieldMapping, ...]
    source: str
    performance: PerformanceSection | None = None  # partner figures onto the partner's home account

    def partner_owned_fields(self) -> tuple[str, ...]:
        """The remote fields this mapping reads that the partner owns (``owner: partner``), once each."""
        owned = (e.inbound.field for e in self.fields if e.inbound and e.owner is Owner.PARTNER)
        return tuple(dict.fromkeys(field for field in owned if field))

    def status_outbound_fields(self) -> tuple[str, ...]:
        """The remote fields this mapping writes from the lead's ``status.*`` (what a write-back sets)."""
        return tuple(
            e.outbound.field
            for e in self.fields
            if e.outbound and e.outbound.field and e.canonical and e.canonical.startswith("status.")
        )

    def remote_fields(self, direction: str = IN) -> list[str]:
        """Every remote field this mapping reads (``in``) or writes (``out``), key and stamp included."""
        names: list[str] = [self.key, *([self.stamp] if self.stamp else [])] if direction == IN else []
        for entry in self.fields:
            side = entry.inbound if direction == IN else entry.outbound
            if side is None:
                continue
            if side.field:
                names.append(side.field)
            if direction == IN:
                for step in side.steps:
                    names.extend(step.transform.reads())
        return list(dict.fromkeys(names))
