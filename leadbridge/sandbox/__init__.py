"""leadbridge.sandbox: HTTPS stand-ins for Salesforce and HubSpot that the real clients talk to.

Shared core (used by every stand-in):

* ``tls.SandboxTLS`` — throwaway trustme CA per run, PEM at ``.ca_file``, ``server_context()``;
* ``server`` — ``HTTPSServer(app, context)``, ``Router``, ``Request``/``Response``,
  ``json_response``, ``DropConnection``;
* ``faults.Faults`` — seeded per-endpoint errors/latency/drops, one-shot session expiry, ``Quota``;
* ``counters.Counters`` — requests by endpoint; ``clock.Clock`` — freezable per-org time;
* ``seed`` — deterministic European leads/companies with postal codes and coordinates;
* ``registry`` — ``register_service(kind, start)``, ``OrgSpec``, ``plan_orgs``;
* ``runner.Sandbox`` — starts every stand-in behind one CA; context manager.

See README.md in this folder for the known differences from the real services.
"""

from leadbridge.sandbox.runner import Sandbox

__all__ = ["Sandbox"]
