"""``POST /webhooks/salesforce/{connection}``: Salesforce Outbound Messages, answered as Salesforce expects.

Rules (the message itself: ``connectors/salesforce/outbound.py``):
- only a Salesforce connection with ``outbound_org_id`` set receives them; any other name is 404
  with one fixed answer (a SOAP fault), so nobody learns which connections exist;
- the sender must be inside ``outbound_allow`` (when set; the client address as ``web/clients.py``
  reads it, behind trusted proxies too), the message must name the connection's org and carry its
  object; a refusal is a SOAP fault (403 / 400) that Salesforce shows in its outbound queue and retries;
- a trusted message queues an immediate poll of the connection marked ``webhook`` (``poll_source`` for
  a manufacturer org, ``poll_partner`` for a partner's), like every other webhook: the incremental pull
  reads what changed through intake's dedup, so a lead pushed by the org is taken in and routed within
  seconds, a redelivered message costs one cheap query, and the fields an admin chose to send do not
  decide what is read;
- the answer is the SOAP ``notificationsResponse`` with ``<Ack>true</Ack>`` (200, ``text/xml``);
  without it Salesforce redelivers for 24 hours.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request, Response

from leadbridge.connectors.salesforce import SalesforceConfig
from leadbridge.connectors.salesforce.outbound import (
    ACK,
    CONTENT_TYPE,
    fault,
    parse_outbound,
    sender_allowed,
    verify,
)
from leadbridge.ports import WebhookMalformed, WebhookRejected
from leadbridge.runtime import Runtime
from leadbridge.sync.steps import POLL_PARTNER, POLL_SOURCE, WEBHOOK
from leadbridge.web.clients import client_address
from leadbridge.web.errors import API_ERROR_RESPONSES

log = logging.getLogger("leadbridge.web.salesforce_outbound")
router = APIRouter(tags=["webhooks"])
NO_RECEIVER = "no outbound message receiver here"


def _soap(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type=CONTENT_TYPE)


_SOAP_FAULT: dict[str, Any] = {"content": {CONTENT_TYPE: {}}}
ANSWERS: dict[int | str, dict[str, Any]] = {
    **API_ERROR_RESPONSES,  # a body over the ceiling (413), a path that is not one (422)
    200: {"description": "the SOAP Ack Salesforce waits for", **_SOAP_FAULT},
    400: {"description": "SOAP fault: not an Outbound Message of this connection's object", **_SOAP_FAULT},
    403: {"description": "SOAP fault: another org, or a sender outside outbound_allow", **_SOAP_FAULT},
    404: {"description": "SOAP fault: no outbound message receiver here", **_SOAP_FAULT},
}


@router.post("/webhooks/salesforce/{connection}", response_class=Response, responses=ANSWERS)
async def salesforce_outbound(connection: str, request: Request) -> Response:
    """Verify an Outbound Message, queue an immediate poll and acknowledge it (module rules)."""
    rt: Runtime = request.app.state.runtime
    config = rt.settings.connections.get(connection)
    if not isinstance(config, SalesforceConfig) or not config.outbound_org_id:
        return _soap(404, fault(NO_RECEIVER))
    sender = client_address(request, rt.settings)
    if not sender_allowed(config, sender):
        log.warning("outbound message for %s from %s refused: not in outbound_allow", connection, sender)
        return _soap(403, fault(f"sender {sender} is not allowed"))
    try:
        message = parse_outbound(await request.body())
        verify(config, message, config.object or "Lead")
    except WebhookMalformed as error:
        return _soap(400, fault(str(error)))
    except WebhookRejected as error:
        log.warning("outbound message for %s refused: %s", connection, error)
        return _soap(403, fault(str(error)))
    step = POLL_SOURCE if config.role == "manufacturer" else POLL_PARTNER
    rt.dispatcher.send(step, (connection, WEBHOOK))
    log.info("outbound message for %s: %d record(s), poll queued", connection, len(message.notifications))
    return Response(ACK, status_code=200, media_type=CONTENT_TYPE)
