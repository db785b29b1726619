"""``POST /webhooks/{connection}``: real-time news from a CRM, turned into an immediate poll.

Rules:
- only a connection whose kind receives webhooks (``Capability.WEBHOOKS`` in the connector registry:
  HubSpot) and that is set up to (its app's client secret) does; any other name is 404 with one
  fixed answer, so nobody learns which connections exist;
- a connector that can check a delivery's signature headers without its body
  (``check_webhook_headers``) is asked first, so an unsigned or stale body is never read; the body's
  size is bounded either way (``web/limits.py``);
- a delivery is trusted only when the connector's ``parse_webhook`` verifies it (HubSpot: a valid v3
  signature and a fresh timestamp); a forged or stale delivery gets 401 with the failed check, a
  verified body that is not what the system sends (``WebhookMalformed``) 400; either changes nothing;
- HubSpot's event names only the object that changed, so a trusted delivery with new events queues
  an immediate poll of that connection (``poll_source`` for a manufacturer, ``poll_partner`` for a
  partner) marked ``webhook``: the incremental pull reads exactly what changed since its checkpoint,
  through intake's dedup, so a redelivered webhook costs one cheap query and doubles nothing, and a
  new lead is routed the moment it is taken in (kicks);
- the answer is 202 with how many events were new; HubSpot retries anything but 2xx.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import FatalConnectorError
from leadbridge.ports import Capability, Connector, WebhookMalformed, WebhookRejected
from leadbridge.runtime import Runtime
from leadbridge.sync.steps import POLL_PARTNER, POLL_SOURCE, WEBHOOK
from leadbridge.web.errors import API_ERROR_RESPONSES

log = logging.getLogger("leadbridge.web.webhooks")
router = APIRouter(tags=["webhooks"], responses=API_ERROR_RESPONSES)
NO_RECEIVER = "no webhook receiver here"
# Per runtime and connection (``rt.extra``): the receiving connector remembers the event ids it has seen.
_RECEIVERS = "webhook_receivers"
_lock = threading.Lock()


def _receiver(rt: Runtime, connection: str) -> Connector:
    """The connector that verifies deliveries for ``connection`` (its kind has ``WEBHOOKS``)."""
    kinds = default_registry()
    settings = rt.settings
    config = settings.connections.get(connection)
    if config is None or not kinds.can(config, Capability.WEBHOOKS):
        raise HTTPException(404, NO_RECEIVER)  # the same answer for every name
    with _lock:
        receivers: dict[str, Connector] = rt.extra.setdefault(_RECEIVERS, {})
        if connection not in receivers:
            built = kinds.connector(settings, connection)
            assert built is not None, "a kind with WEBHOOKS has a factory"
            receivers[connection] = built
        return receivers[connection]


@router.post("/webhooks/{connection}", status_code=202)
async def receive_webhook(connection: str, request: Request) -> dict[str, Any]:
    """Verify a delivery and queue an immediate poll of the connection (module rules)."""
    rt: Runtime = request.app.state.runtime
    settings = rt.settings
    receiver = _receiver(rt, connection)
    headers = dict(request.headers)
    precheck = getattr(receiver, "check_webhook_headers", None)
    try:
        if precheck is not None:
            precheck(headers)  # signature headers and freshness before a byte of the body
        body = await request.body()
        # The signature covers the URL the CRM was given; behind a proxy that is the configured one.
        uri = str(getattr(settings.connection(connection), "webhook_url", None) or request.url)
        events = receiver.parse_webhook(headers, body, uri)
    except WebhookMalformed as error:
        raise HTTPException(400, str(error)) from None
    except WebhookRejected as error:
        raise HTTPException(401, str(error)) from None
    except FatalConnectorError as error:  # not set up to receive: logged for the admin, 404 outside
        log.warning("webhook for %s refused: %s", connection, error)
        raise HTTPException(404, NO_RECEIVER) from None
    if events:
        role = settings.connection(connection).role
        step = POLL_SOURCE if role == "manufacturer" else POLL_PARTNER
        rt.dispatcher.send(step, (connection, WEBHOOK))
    return {"accepted": len(events), "connection": connection}
