"""The HubSpot stand-in as a sandbox service: one HTTPS server per portal, registered as "hubspot".

``Sandbox`` (runner.py) imports this module through the registry and calls ``start(tls, orgs)``;
each ``OrgSpec`` becomes a seeded ``Portal`` with its own base URL, private-app token, data,
limits, faults, counters and webhooks.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hubspot import HubSpot
from urllib3.util.retry import Retry

from leadbridge.sandbox.hubspot.app import make_app
from leadbridge.sandbox.hubspot.client import hubspot_client
from leadbridge.sandbox.hubspot.portal import Portal
from leadbridge.sandbox.hubspot.seeding import seed_portal
from leadbridge.sandbox.registry import OrgSpec, register_service
from leadbridge.sandbox.server import HTTPSServer
from leadbridge.sandbox.tls import SandboxTLS


def _token(seed: int, name: str) -> str:
    """A private-app-looking token, the same for the same seed and portal name."""
    rng = random.Random(f"hubspot-token|{seed}|{name}")
    digits = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    return f"pat-eu1-{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


class HubSpotService:
    """Running HubSpot portals, one HTTPS server each."""

    kind = "hubspot"

    def __init__(self, tls: SandboxTLS) -> None:
        self.tls = tls
        self.portals: dict[str, Portal] = {}
        self.servers: dict[str, HTTPSServer] = {}
        self.specs: dict[str, OrgSpec] = {}

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    def add_portal(self, spec: OrgSpec, *, seed_data: bool = True) -> Portal:
        """Create, seed and serve one portal."""
        portal_id = 140_000_000 + spec.seed % 10_000 * 100 + len(self.portals) + 1
        portal = Portal(spec.name, portal_id, _token(spec.seed, spec.name), seed=spec.seed)
        portal.webhooks.ca_file = str(self.ca_file)  # https receivers in tests use the sandbox CA
        if seed_data:
            seed_portal(portal, spec.leads)
        server = HTTPSServer(make_app(portal), self.tls.server_context(), name=f"hubspot-{spec.name}")
        self.portals[spec.name] = portal
        self.specs[spec.name] = spec
        self.servers[spec.name] = server.start()
        return portal

    def portal(self, name: str = "manufacturer") -> Portal:
        """A portal by name (``manufacturer``, ``partner-01``, …)."""
        try:
            return self.portals[name]
        except KeyError:
            raise KeyError(f"no HubSpot portal {name!r}; running: {sorted(self.portals)}") from None

    def base_url(self, name: str = "manufacturer") -> str:
        return self.servers[name].url

    def client(
        self, name: str = "manufacturer", *, retry: Retry | None = None, validate: bool = True
    ) -> HubSpot:
        """The real ``hubspot.HubSpot`` client for a portal (no retries unless ``retry`` is given)."""
        portal = self.portal(name)
        return hubspot_client(
            self.base_url(name),
            portal.access_token,
            self.ca_file,
            retry=retry,
            validate=validate,
            developer_api_key=portal.developer_api_key,
        )

    def describe(self) -> list[dict[str, Any]]:
        """One entry per portal: name, role, base_url, access_token, portal_id, app_id."""
        return [
            {**portal.describe(self.servers[name].url), "role": self.specs[name].role}
            for name, portal in self.portals.items()
        ]

    def stop(self) -> None:
        for portal in self.portals.values():
            portal.webhooks.stop()
        for server in self.servers.values():
            server.stop()


def start(tls: SandboxTLS, orgs: Sequence[OrgSpec]) -> HubSpotService:
    """Start one seeded portal per org (the registry's starter for "hubspot")."""
    service = HubSpotService(tls)
    try:
        for spec in orgs:
            service.add_portal(spec)
    except BaseException:
        service.stop()
        raise
    return service


register_service("hubspot", start)
