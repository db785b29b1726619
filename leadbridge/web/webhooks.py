"""``POST /webhooks/{connection}``: real-time news from a CRM, turned into an immediate poll.

Rules:
- only a connection whose kind receives webhooks (``Capability.WEBHOOKS`` in the connector registry:
  HubSpot) does (404 otherwise, naming the connections that do);
- a delivery is trusted only when the connector's ``parse_webhook`` verifies it (HubSpot: a valid v3
  signature and a fresh timestamp); a forged, stale or malformed delivery gets 401 with the failed
  check and changes nothing;
- HubSpot's event names only the object that changed, so a trusted delivery with new events queues
  an immediate poll of that connection (``poll_source`` for a manufacturer, ``poll_partner`` for a
  partner) marked ``webhook``: the incremental pull reads exactly what changed since its checkpoint,
  through intake's dedup, so a redelivered webhook costs one cheap query and doubles nothing, and a
  new lead is routed the moment it is taken in (kicks);
- the answer is 202 with how many events were new; HubSpot retries anything but 2xx.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import FatalConnectorError
from leadbridge.core.settings import Settings
from leadbridge.jobs.dispatch import dispatch
from leadbridge.jobs.steps import POLL_PARTNER, POLL_SOURCE, WEBHOOK
from leadbridge.ports import Capability, Connector, WebhookRejected

router = APIRouter(tags=["webhooks"])
# Per app settings and connection: the receiving connector remembers the event ids it has seen.
_receivers: dict[tuple[int, str], Connector] = {}
_lock = threading.Lock()


def _receiver(settings: Settings, connection: str) -> Connector:
    """The connector that verifies deliveries for ``connection`` (its kind has ``WEBHOOKS``)."""
    kinds = default_registry()
    config = settings.connections.get(connection)
    if config is None or not kinds.can(config, Capability.WEBHOOKS):
        receiving = sorted(n for n, c in settings.connections.items() if kinds.can(c, Capability.WEBHOOKS))
        raise HTTPException(
            404,
            f"no connection named {connection!r} receives webhooks here "
            f"(connections that do: {', '.join(receiving) or 'none'})",
        )
    with _lock:
        key = (id(settings), connection)
        if key not in _receivers:
            built = kinds.connector(settings, connection)
            assert built is not None, "a kind with WEBHOOKS has a factory"
            _receivers[key] = built
        return _receivers[key]


@router.post("/webhooks/{connection}", status_code=202)
async def receive_webhook(connection: str, request: Request) -> dict[str, Any]:
    """Verify a delivery and queue an immediate poll of the connection (module rules)."""
    settings: Settings = request.app.state.settings
    receiver = _receiver(settings, connection)
    body = await request.body()
    # The signature covers the URL the CRM was given; behind a proxy that is the configured one.
    uri = str(getattr(settings.connection(connection), "webhook_url", None) or request.url)
    try:
        events = receiver.parse_webhook(dict(request.headers), body, uri)
    except WebhookRejected as error:
        raise HTTPException(401, str(error)) from None
    except FatalConnectorError as error:  # not set up to receive: say what to configure
        raise HTTPException(401, str(error)) from None
    if events:
        role = settings.connection(connection).role
        dispatch(POLL_SOURCE if role == "manufacturer" else POLL_PARTNER, connection, WEBHOOK)
    return {"accepted": len(events), "connection": connection}
