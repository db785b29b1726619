"""Connector kinds that exist only for the tests. Each subpackage exports ``KIND``; the contract
suite registers them beside the shipped kinds (``extra_kinds()``), so a package dropped here (plus
its harness in ``tests/connectors/harnesses/``) gets the whole suite with no other edit."""

from __future__ import annotations

import importlib
import pkgutil

from leadbridge.ports import Kind


def extra_kinds() -> tuple[Kind, ...]:
    """The ``KIND`` of every subpackage, by name."""
    found = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        package = importlib.import_module(f"{__name__}.{module.name}")
        found.append(package.KIND)
    return tuple(found)
