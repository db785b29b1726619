"""Build the real ``hubspot.HubSpot`` client pointed at a sandbox portal (crm-api-notes §1.4).

Connectors and tests reuse this so every caller gets the same wiring: ``host`` for the generated
``hs.crm.*`` APIs and ``base_url`` for ``hs.api_request``, the sandbox CA as ``ssl_ca_cert`` (urllib3
ignores REQUESTS_CA_BUNDLE), and client-side model validation on, which makes the client check
that every answer has the shape HubSpot's models require.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hubspot import HubSpot
from urllib3.util.retry import Retry


def no_retry() -> Retry:
    """No retries at all: tests want to see every 429/5xx as it is."""
    return Retry(total=0, raise_on_status=False)


def hubspot_client(
    base_url: str,
    access_token: str,
    ca_file: str | Path,
    *,
    retry: Retry | None = None,
    validate: bool = True,
    pool_maxsize: int = 4,
    developer_api_key: str | None = None,
) -> HubSpot:
    """A ``HubSpot`` client for one portal. ``retry=None`` means no retries (see ``no_retry``).

    ``developer_api_key`` is sent as ``?hapikey=`` by the ``hs.webhooks`` APIs only (the CRM APIs
    use the token), so passing both is safe.

    Cache the sub-APIs you use (``contacts = hs.crm.contacts.basic_api``): every attribute access
    on ``hs.crm.…`` builds a new ApiClient and connection pool.
    """
    return HubSpot(
        access_token=access_token,
        api_key=developer_api_key,
        host=base_url,
        base_url=base_url,
        ssl_ca_cert=str(ca_file),
        client_side_validation=validate,
        retry=retry or no_retry(),
        connection_pool_maxsize=pool_maxsize,
    )


def hubspot_client_from_info(info: Mapping[str, Any], ca_file: str | Path, **options: Any) -> HubSpot:
    """A client from one ``"hubspot"`` entry of ``leadbridge sandbox serve --json`` (or ``describe()``).

    ``options`` are passed on to ``hubspot_client`` (``retry``, ``validate``, ``pool_maxsize``).
    """
    return hubspot_client(
        str(info["base_url"]),
        str(info["access_token"]),
        ca_file,
        developer_api_key=info.get("developer_api_key"),
        **options,
    )
