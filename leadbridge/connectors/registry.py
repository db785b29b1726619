"""The connector kinds leadbridge ships, as data: ``default_registry()`` builds the registry the
runtime holds. Adding a connector = one package with a ``KIND`` + one line here.
"""

from __future__ import annotations

from leadbridge.ports import ConnectorRegistry, Kind


def shipped_kinds() -> tuple[Kind, ...]:
    """Every kind leadbridge ships (imported here, on call: the registry is never filled at import)."""
    from leadbridge.connectors import csvkind, dynamics, hubspot, inbox, pipedrive, salesforce, webhook

    return (
        salesforce.KIND,
        hubspot.KIND,
        inbox.KIND,
        csvkind.KIND,
        webhook.KIND,
        pipedrive.KIND,
        dynamics.KIND,
    )


def default_registry(*extra: Kind) -> ConnectorRegistry:
    """The shipped kinds plus ``extra`` ones (a kind registered twice is an error)."""
    return ConnectorRegistry.of(*shipped_kinds(), *extra)
