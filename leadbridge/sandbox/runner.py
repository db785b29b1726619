"""``Sandbox``: start every stand-in with its orgs behind one throwaway CA; stop them together.

Example::

    with Sandbox.plan(partners=2, leads=500, seed=7) as box:
        org = box.salesforce.org("manufacturer")
        sf = salesforce_client(org, box.ca_file)
        ...
        box.describe()   # the JSON `leadbridge sandbox serve --json` prints
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from leadbridge.sandbox.registry import OrgSpec, RunningService, plan_orgs, service_starters
from leadbridge.sandbox.tls import SandboxTLS

if TYPE_CHECKING:
    from leadbridge.sandbox.dynamics.service import DynamicsService
    from leadbridge.sandbox.hubspot.service import HubSpotService
    from leadbridge.sandbox.pipedrive.service import PipedriveService
    from leadbridge.sandbox.salesforce.service import SalesforceService


class Sandbox:
    """A set of running stand-ins (one per service kind), each hosting its orgs."""

    def __init__(self, orgs: Mapping[str, Sequence[OrgSpec]], *, ca_dir: Path | None = None) -> None:
        self._orgs = {kind: list(specs) for kind, specs in orgs.items()}
        self._ca_dir = ca_dir
        self._tls: SandboxTLS | None = None
        self.services: dict[str, RunningService] = {}

    @classmethod
    def plan(
        cls,
        *,
        partners: int = 0,
        leads: int = 100,
        seed: int = 0,
        services: Sequence[str] | None = None,
        ca_dir: Path | None = None,
    ) -> Sandbox:
        """A sandbox with a manufacturer org per service and ``partners`` partner orgs round-robin.

        ``services`` defaults to every available stand-in (see ``registry.service_starters``).
        """
        kinds = list(services) if services is not None else list(service_starters())
        return cls(plan_orgs(partners=partners, leads=leads, seed=seed, services=kinds), ca_dir=ca_dir)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Create the CA and start every service; on any failure, stop what already started."""
        starters = service_starters()
        unknown = set(self._orgs) - set(starters)
        if unknown:
            raise ValueError(f"unknown sandbox service(s) {sorted(unknown)}; available: {sorted(starters)}")
        self._tls = SandboxTLS(self._ca_dir)
        try:
            for kind, specs in self._orgs.items():
                self.services[kind] = starters[kind](self._tls, specs)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every service and remove the CA file (if the sandbox created its directory)."""
        for service in self.services.values():
            service.stop()
        self.services.clear()
        if self._tls is not None:
            self._tls.cleanup()
            self._tls = None

    def __enter__(self) -> Sandbox:
        return self.start() if self._tls is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- access -----------------------------------------------------------------------------
    @property
    def tls(self) -> SandboxTLS:
        """This run's CA and server certificate (only while running)."""
        if self._tls is None:
            raise RuntimeError("the sandbox is not running; call start() or use it as a context manager")
        return self._tls

    @property
    def ca_file(self) -> Path:
        """The PEM of this run's CA: pass it as ``verify=`` (requests) or ``ssl_ca_cert=`` (HubSpot)."""
        return self.tls.ca_file

    def __getitem__(self, kind: str) -> RunningService:
        try:
            return self.services[kind]
        except KeyError:
            raise KeyError(f"no {kind!r} service in this sandbox; running: {sorted(self.services)}") from None

    @property
    def salesforce(self) -> SalesforceService:
        """The Salesforce stand-in (typed)."""
        return cast("SalesforceService", self["salesforce"])

    @property
    def hubspot(self) -> HubSpotService:
        """The HubSpot stand-in (typed); added by the HubSpot stand-in's author."""
        return cast("HubSpotService", self["hubspot"])

    @property
    def pipedrive(self) -> PipedriveService:
        """The Pipedrive stand-in (typed)."""
        return cast("PipedriveService", self["pipedrive"])

    @property
    def dynamics(self) -> DynamicsService:
        """The Dataverse (Dynamics 365) stand-in (typed)."""
        return cast("DynamicsService", self["dynamics"])

    def describe(self) -> dict[str, Any]:
        """``{"ca_file": …, "<kind>": [org entries…], …}``; every known kind is present (maybe empty)."""
        data: dict[str, Any] = {
            "ca_file": str(self.ca_file),
            "salesforce": [],
            "hubspot": [],
            "pipedrive": [],
            "dynamics": [],
        }
        for kind, service in self.services.items():
            data[kind] = service.describe()
        return data
