"""The Pipedrive stand-in as a sandbox service: one HTTPS server per company, registered as
"pipedrive". Each ``OrgSpec`` becomes a ``Company`` with its own base URL, API token, OAuth client
and refresh token, limits, faults, counters and webhooks. Companies start empty: partners'
Pipedrive accounts hold only what leadbridge (or a test, as a user) puts there.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from leadbridge.sandbox.pipedrive.app import make_app
from leadbridge.sandbox.pipedrive.company import Company
from leadbridge.sandbox.registry import OrgSpec, register_service
from leadbridge.sandbox.server import HTTPSServer
from leadbridge.sandbox.tls import SandboxTLS


class PipedriveService:
    """Running Pipedrive companies, one HTTPS server each."""

    kind = "pipedrive"

    def __init__(self, tls: SandboxTLS) -> None:
        self.tls = tls
        self.companies: dict[str, Company] = {}
        self.servers: dict[str, HTTPSServer] = {}
        self.specs: dict[str, OrgSpec] = {}

    @property
    def ca_file(self) -> Path:
        return self.tls.ca_file

    def add_company(self, spec: OrgSpec) -> Company:
        company = Company(
            spec.name, 9_000_000 + spec.seed % 1000 * 10 + len(self.companies) + 1, seed=spec.seed
        )
        company.webhooks.ca_file = str(self.ca_file)
        server = HTTPSServer(make_app(company), self.tls.server_context(), name=f"pipedrive-{spec.name}")
        self.servers[spec.name] = server.start()
        company.base_url = server.url
        self.companies[spec.name] = company
        self.specs[spec.name] = spec
        return company

    def company(self, name: str = "manufacturer") -> Company:
        try:
            return self.companies[name]
        except KeyError:
            raise KeyError(f"no Pipedrive company {name!r}; running: {sorted(self.companies)}") from None

    def base_url(self, name: str = "manufacturer") -> str:
        return self.servers[name].url

    def describe(self) -> list[dict[str, Any]]:
        """One entry per company: name, role, base_url, api_token, OAuth client and refresh token."""
        return [
            {**company.describe(self.servers[name].url), "role": self.specs[name].role}
            for name, company in self.companies.items()
        ]

    def stop(self) -> None:
        for company in self.companies.values():
            company.webhooks.stop()
        for server in self.servers.values():
            server.stop()


def start(tls: SandboxTLS, orgs: Sequence[OrgSpec]) -> PipedriveService:
    service = PipedriveService(tls)
    try:
        for spec in orgs:
            service.add_company(spec)
    except BaseException:
        service.stop()
        raise
    return service


register_service("pipedrive", start)
