"""Load mapping files, reporting every problem as ``file:line: message`` in one ``MappingError``.

The YAML is composed into nodes so that each key and list item keeps its line; mapping keys are
kept as the text written (``Yes:`` stays the picklist value ``"Yes"``, not YAML 1.1's ``True``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from leadbridge.core.errors import ConfigError
from leadbridge.core.settings import CrmConnection
from leadbridge.mappings.canonical import Owner, lookup, suggest
from leadbridge.mappings.performance import (
    DEFAULT_OBJECTS,
    PerformanceModel,
    performance_problems,
)
from leadbridge.mappings.schema import IN, OUT, EntryModel, FieldMapping, FileModel, Mapping, Side, Step
from leadbridge.mappings.transforms import REGISTRY
from leadbridge.ports.accounts import PerformanceSection

Loc = tuple[Any, ...]
DEFAULTS_DIR = Path(__file__).parent / "defaults"
# HubSpot names object types in the plural; default files are named after one record.
_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}


class MappingError(ConfigError):
    """A mapping file is broken; ``problems`` are ``(line, message)`` pairs, all of them."""

    def __init__(self, source: str, problems: Sequence[tuple[int, str]]) -> None:
        self.source = source
        self.problems = sorted(set(problems))  # a shared chain is checked once per side
        super().__init__("\n".join(f"{source}:{line}: {message}" for line, message in self.problems))


class _Lines:
    """Line numbers (1-based) of every key and list item, by path from the document root."""

    def __init__(self) -> None:
        self.by_path: dict[Loc, int] = {(): 1}

    def line(self, loc: Iterable[Any]) -> int:
        """The line of the deepest known prefix of ``loc`` (pydantic locs carry extra parts)."""
        path: Loc = ()
        for part in loc:
            if (*path, part) in self.by_path:
                path = (*path, part)
        return self.by_path[path]


_constructor = yaml.SafeLoader("")  # only used to resolve scalar tags (int, bool, null, float)


def _to_data(node: yaml.Node, path: Loc, lines: _Lines) -> Any:
    lines.by_path.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        data: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            lines.by_path[(*path, key)] = key_node.start_mark.line + 1
            data[key] = _to_data(value_node, (*path, key), lines)
        return data
    if isinstance(node, yaml.SequenceNode):
        return [_to_data(item, (*path, index), lines) for index, item in enumerate(node.value)]
    return _constructor.construct_object(node, deep=True)


def _validation_problems(error: ValidationError, base: Loc, lines: _Lines) -> list[tuple[int, str]]:
    problems = []
    for item in error.errors():
        loc = (*base, *item["loc"])
        where = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function"))
        message = item["msg"].removeprefix("Value error, ")
        problems.append((lines.line(loc), f"{where}: {message}" if where else message))
    return problems


class _EntryLoader:
    """Turns one ``fields`` item into a ``FieldMapping``, collecting problems instead of stopping."""

    def __init__(self, lines: _Lines, role: str, problems: list[tuple[int, str]]) -> None:
        self.lines, self.role, self.problems = lines, role, problems

    def problem(self, loc: Loc, message: str) -> None:
        self.problems.append((self.lines.line(loc), message))

    def steps(self, raw: Any, loc: Loc, direction: str) -> list[Step]:
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        steps = []
        args: Any
        for index, item in enumerate(items):
            item_loc = (*loc, index) if isinstance(raw, list) else loc
            if isinstance(item, str):
                name, args = item, {}
            elif isinstance(item, dict) and len(item) == 1:
                name, args = next(iter(item.items()))
                item_loc = (*item_loc, name)
            else:
                self.problem(item_loc, "a transform is a name or {name: arguments}")
                continue
            cls = REGISTRY.get(name)
            if cls is None:
                self.problem(item_loc, f"unknown transform {name!r} (known: {', '.join(sorted(REGISTRY))})")
                continue
            if direction not in cls.directions:
                self.problem(item_loc, f"{name} only converts {', '.join(sorted(cls.directions))}bound")
                continue
            if not isinstance(args, dict):
                args = {} if args is None else {cls.primary or "": args}
            try:
                parsed: BaseModel = cls.args_model.model_validate(args)
            except ValidationError as error:
                for line, message in _validation_problems(error, item_loc, self.lines):
                    self.problems.append((line, f"{name}: {message}"))
                continue
            steps.append(Step(cls(parsed), self.lines.line(item_loc)))
        return steps

    def side(self, entry: EntryModel, direction: str, loc: Loc) -> Side | None:
        model = entry.inbound if direction == IN else entry.outbound
        if model is None:
            return None
        side_loc = (*loc, direction)
        if model.transform is not None:
            steps = self.steps(model.transform, (*side_loc, "transform"), direction)
        else:
            shared = self.steps(entry.transform, (*loc, "transform"), direction)
            steps = shared if direction == IN else shared[::-1]
        if model.field is None and direction == OUT:
            self.problem(side_loc, "out: needs 'field' (the remote field to write)")
        if model.field is None and direction == IN and not (steps and steps[0].transform.handles_none):
            self.problem(side_loc, "in: needs 'field', or a template/constant as its first transform")
        return Side(direction, model.field, tuple(steps), self.lines.line(side_loc))

    def check_meaning(self, entry: EntryModel, result: FieldMapping, loc: Loc) -> None:
        field = lookup(entry.canonical) if entry.canonical else None
        if entry.canonical and field is None:
            hint = suggest(entry.canonical)
            self.problem((*loc, "canonical"), f"unknown canonical field {entry.canonical!r}{hint}")
        if entry.canonical is None and (result.inbound or not result.outbound):
            self.problem(loc, "an entry without 'canonical' can only build an 'out' value (template…)")
        if result.inbound is None and result.outbound is None:
            self.problem(loc, "maps nothing: give 'in', 'out' or both")
        if entry.required and result.inbound is None:
            self.problem((*loc, "required"), "required needs an 'in' side to check")
        if entry.blind and self.role != "partner":
            self.problem((*loc, "blind"), "blind only applies to partner mappings")
        if entry.blind and field is not None and field.identity:
            self.problem((*loc, "blind"), f"{field.path} identifies the lead: it cannot be sent blind")
        for side in (result.inbound, result.outbound):
            if side is None:
                continue
            for step in side.steps:
                for message in step.transform.problems(field):
                    self.problems.append((step.line, message))
                if side.direction == OUT:
                    for name in step.transform.reads():
                        if lookup(name) is None:
                            self.problems.append(
                                (step.line, f"{step.name}: unknown canonical field {name!r}{suggest(name)}")
                            )
        out = result.outbound
        converting = {"date", "datetime", "template", "constant"}
        if (
            out
            and field
            and field.kind in ("date", "datetime")
            and not {s.name for s in out.steps} & converting
        ):
            self.problem((*loc, OUT), f"{field.path} is a {field.kind}: add a {field.kind} transform")

    def load(self, raw: Any, loc: Loc) -> FieldMapping | None:
        try:
            entry = EntryModel.model_validate(raw)
        except ValidationError as error:
            self.problems.extend(_validation_problems(error, loc, self.lines))
            return None
        field = lookup(entry.canonical) if entry.canonical else None
        result = FieldMapping(
            canonical=entry.canonical,
            inbound=self.side(entry, IN, loc),
            outbound=self.side(entry, OUT, loc),
            required=entry.required,
            owner=entry.owner or (field.owner if field else Owner.LEADBRIDGE),
            blind=entry.blind,
            line=self.lines.line(loc),
        )
        self.check_meaning(entry, result, loc)
        return result


def _duplicates(fields: Sequence[FieldMapping], problems: list[tuple[int, str]]) -> None:
    """Two entries may not fill the same canonical field, nor write the same remote field."""
    seen_in: dict[str, int] = {}
    seen_out: dict[str, int] = {}
    for entry in fields:
        if entry.inbound and entry.canonical:
            if entry.canonical in seen_in:
                first = seen_in[entry.canonical]
                problems.append((entry.line, f"{entry.canonical} is already read in on line {first}"))
            seen_in.setdefault(entry.canonical, entry.line)
        if entry.outbound and entry.outbound.field:
            name = entry.outbound.field
            if name in seen_out:
                problems.append((entry.line, f"{name} is already written on line {seen_out[name]}"))
            seen_out.setdefault(name, entry.line)


def parse_mapping(text: str, source: str, *, systems: Collection[str] | None = None) -> Mapping:
    """Parse mapping YAML; raise ``MappingError`` listing every problem with its line. ``systems``
    (the connector kinds that have mappings) also checks ``system``; a connection checks its own
    kind when it uses the file (``mapping_for``)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise MappingError(source, [(line, f"not valid YAML: {getattr(error, 'problem', error)}")]) from None
    lines = _Lines()
    raw = _to_data(node, (), lines) if node is not None else None
    if not isinstance(raw, dict):
        expected = "a mapping file is a YAML mapping with system, object, role, key and fields"
        raise MappingError(source, [(1, expected)])
    try:
        header = FileModel.model_validate(raw)
    except ValidationError as error:
        raise MappingError(source, _validation_problems(error, (), lines)) from None
    problems: list[tuple[int, str]] = []
    if systems is not None and header.system not in systems:
        known = ", ".join(sorted(systems))
        message = f"system: unknown system {header.system!r} (known: {known})"
        problems.append((lines.line(("system",)), message))
    loader = _EntryLoader(lines, header.role, problems)
    fields = [f for i, item in enumerate(header.fields) if (f := loader.load(item, ("fields", i)))]
    _duplicates(fields, problems)
    performance = _performance(header, lines, problems)
    if problems:
        raise MappingError(source, problems)
    return Mapping(
        system=header.system,
        object=header.object,
        role=header.role,
        key=header.key,
        stamp=header.stamp,
        description=header.description,
        fields=tuple(fields),
        source=source,
        performance=performance,
    )


def _performance(
    header: FileModel, lines: _Lines, problems: list[tuple[int, str]]
) -> PerformanceSection | None:
    """The ``partner_performance`` section (``mappings/performance.py``); its problems go to ``problems``."""
    raw = header.partner_performance
    if raw is None:
        return None
    base: Loc = ("partner_performance",)
    if header.role != "manufacturer":
        problems.append(
            (
                lines.line(base),
                "partner_performance: only a manufacturer (home) mapping writes partner figures",
            )
        )
        return None
    try:
        model = PerformanceModel.model_validate(raw)
    except ValidationError as error:
        problems.extend(_validation_problems(error, base, lines))
        return None
    found = performance_problems(model, lambda figure: lines.line((*base, "fields", figure)))
    problems.extend(found)
    if found:
        return None
    return PerformanceSection(
        object=model.object or DEFAULT_OBJECTS.get(header.system, "Account"),
        window_days=model.window_days,
        every_hours=model.every_hours,
        fields=tuple(model.fields.items()),
        lines=tuple((figure, lines.line((*base, "fields", figure))) for figure in model.fields),
    )


def load_mapping(path: Path | str, *, systems: Collection[str] | None = None) -> Mapping:
    """Load and validate one mapping file (``MappingError`` lists every problem)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"cannot read mapping {path}: {error.strerror}") from None
    return parse_mapping(text, str(path), systems=systems)


def default_mapping_path(system: str, obj: str, role: str) -> Path:
    """The shipped default for a system, object and role, e.g. ``salesforce_lead_manufacturer.yaml``."""
    name = _SINGULAR.get(obj.lower(), obj.lower())
    return DEFAULTS_DIR / f"{system}_{name}_{role}.yaml"


def default_mapping_paths() -> list[Path]:
    """Every shipped default mapping."""
    return sorted(DEFAULTS_DIR.glob("*.yaml"))


def mapping_for(config: CrmConnection, path: Path | None = None, *, default_object: str) -> Mapping:
    """The mapping a connection uses: its ``mapping`` file (``path``, already resolved against the
    configuration's directory) or the shipped default for its kind, object (``object``, else the
    kind's ``default_object``) and role. A mapping written for another system is a ``ConfigError``."""
    if path is not None:
        mapping = load_mapping(path)
        if mapping.system != config.kind:
            raise ConfigError(
                f"connection {config.name}: {path} maps {mapping.system} {mapping.object}, "
                f"but the connection is {config.kind}"
            )
        return mapping
    obj = config.object or default_object
    default = default_mapping_path(config.kind, obj, config.role)
    if not default.exists():
        raise ConfigError(
            f"connection {config.name}: no default mapping for {config.kind} {obj}; set 'mapping'"
        )
    return load_mapping(default)
