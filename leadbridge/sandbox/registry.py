"""Which stand-in services exist, and how a run is laid out into orgs/portals.

A stand-in plugs in by shipping ``leadbridge/sandbox/<kind>/service.py`` that calls
``register_service("<kind>", start)`` at import, where ``start(tls, orgs)`` starts its server(s)
for the given ``OrgSpec`` list and returns a ``RunningService``. ``service_starters()`` imports
every known stand-in that is present, so ``Sandbox`` and ``leadbridge sandbox serve`` pick it up
without further wiring.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from typing import Any, Literal, Protocol

from leadbridge.sandbox.tls import SandboxTLS

# Stand-ins looked for, in the order their lists appear in `sandbox serve --json`.
KNOWN_SERVICES: tuple[str, ...] = ("salesforce", "hubspot", "pipedrive", "dynamics")

Role = Literal["manufacturer", "partner"]

# Records a partner org is seeded with: enough to look lived-in, few enough to start fast.
PARTNER_RECORDS = 10


@dataclass(frozen=True)
class OrgSpec:
    """One org (Salesforce) or portal (HubSpot) to start: its name, role, data seed and lead count."""

    name: str
    role: Role
    seed: int
    leads: int


class RunningService(Protocol):
    """A started stand-in hosting one or more orgs."""

    kind: str

    def describe(self) -> list[dict[str, Any]]:
        """One JSON-ready entry per org: what a client needs to connect (URL, credentials)."""
        ...

    def stop(self) -> None:
        """Stop every server of this service."""
        ...


class ServiceStarter(Protocol):
    def __call__(self, tls: SandboxTLS, orgs: Sequence[OrgSpec]) -> RunningService: ...


_STARTERS: dict[str, ServiceStarter] = {}


def register_service(kind: str, starter: ServiceStarter) -> None:
    """Make a stand-in available under ``kind`` (called by ``<kind>/service.py`` at import)."""
    _STARTERS[kind] = starter


def service_starters() -> dict[str, ServiceStarter]:
    """Every available stand-in, known ones first in ``KNOWN_SERVICES`` order.

    A known stand-in whose package does not exist yet is skipped; one that exists but fails to
    import raises (a broken stand-in must be loud, not silently absent).
    """
    for kind in KNOWN_SERVICES:
        module = f"leadbridge.sandbox.{kind}.service"
        # Look for the package first: find_spec of a submodule raises if its package is missing.
        present = find_spec(f"leadbridge.sandbox.{kind}") is not None and find_spec(module) is not None
        if kind not in _STARTERS and present:
            import_module(module)
    ordered = {kind: _STARTERS[kind] for kind in KNOWN_SERVICES if kind in _STARTERS}
    ordered.update({kind: starter for kind, starter in _STARTERS.items() if kind not in ordered})
    return ordered


def plan_orgs(
    *, partners: int, leads: int, seed: int, services: Sequence[str]
) -> Mapping[str, list[OrgSpec]]:
    """Lay out a run: a ``manufacturer`` org in every service, partners spread round-robin.

    Partner ``i`` (1-based) lives in ``services[(i - 1) % len(services)]`` and is named
    ``partner-NN``; its data seed is ``seed + i`` so orgs differ but replay.
    """
    if not services:
        raise ValueError("at least one sandbox service is needed")
    plan: dict[str, list[OrgSpec]] = {
        kind: [OrgSpec("manufacturer", "manufacturer", seed, leads)] for kind in services
    }
    for number in range(1, partners + 1):
        kind = services[(number - 1) % len(services)]
        plan[kind].append(OrgSpec(f"partner-{number:02d}", "partner", seed + number, PARTNER_RECORDS))
    return plan
