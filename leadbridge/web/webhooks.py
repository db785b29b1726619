"""``POST /webhooks/{connection}``: real-time news from a CRM, turned into an immediate poll.

Rules:
- only a configured HubSpot connection receives webhooks (404 otherwise, naming what is configured);
- a delivery is trusted only with a valid v3 signature and a fresh timestamp (``connectors/hubspot/
  webhooks.py``); a forged, stale or malformed delivery gets 401 with the failed check and changes
  nothing;
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

from leadbridge.connectors.hubspot.webhooks import WebhookParser, WebhookRejected
from leadbridge.core.settings import Settings
from leadbridge.jobs.dispatch import dispatch
from leadbridge.jobs.steps import POLL_PARTNER, POLL_SOURCE, WEBHOOK

router = APIRouter(tags=["webhooks"])
_parsers: dict[tuple[int, str], WebhookParser] = {}  # per app settings and connection: remembers event ids
_lock = threading.Lock()


def _parser(settings: Settings, connection: str) -> WebhookParser:
    config = settings.connections.get(connection)
    if config is None or config.kind != "hubspot":
        hubspot = sorted(name for name, c in settings.connections.items() if c.kind == "hubspot")
        raise HTTPException(
            404,
            f"no HubSpot connection named {connection!r} receives webhooks here "
            f"(HubSpot connections: {', '.join(hubspot) or 'none'})",
        )
    secret = config.secret("client_secret")
    if not secret:
        raise HTTPException(
            401, f"connection {connection}: set client_secret (the app's) to receive HubSpot webhooks"
        )
    app_id = getattr(config, "app_id", None)
    with _lock:
        key = (id(settings), connection)
        if key not in _parsers:
            own_app = str(app_id) if app_id else None
            _parsers[key] = WebhookParser(secret, app_id=own_app, connection=connection)
        return _parsers[key]


@router.post("/webhooks/{connection}", status_code=202)
async def receive_webhook(connection: str, request: Request) -> dict[str, Any]:
    """Verify a delivery and queue an immediate poll of the connection (module rules)."""
    settings: Settings = request.app.state.settings
    parser = _parser(settings, connection)
    body = await request.body()
    # The signature covers the URL HubSpot was given; behind a proxy that is the configured one.
    uri = str(getattr(settings.connection(connection), "webhook_url", None) or request.url)
    try:
        events = parser.events(dict(request.headers), body, uri)
    except WebhookRejected as error:
        raise HTTPException(401, str(error)) from None
    if events:
        role = settings.connection(connection).role
        dispatch(POLL_SOURCE if role == "manufacturer" else POLL_PARTNER, connection, WEBHOOK)
    return {"accepted": len(events), "connection": connection}
