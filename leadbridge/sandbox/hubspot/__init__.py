"""The HubSpot CRM v3 stand-in: portals served over HTTPS that the real hubspot-api-client talks to.

Start it through ``leadbridge.sandbox.Sandbox`` (``box.hubspot``); build clients with
``client.hubspot_client``; verify webhook requests with ``signature.verify_v3``. See
``leadbridge/sandbox/README.md`` (section HubSpot) for usage and the known differences.
"""

from leadbridge.sandbox.hubspot.client import hubspot_client, hubspot_client_from_info
from leadbridge.sandbox.hubspot.signature import sign_v3, verify_v3

__all__ = ["hubspot_client", "hubspot_client_from_info", "sign_v3", "verify_v3"]
