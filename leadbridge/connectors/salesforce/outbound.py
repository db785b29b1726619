"""Salesforce Outbound Messages: a workflow / flow action POSTs a SOAP ``notifications`` message.

Rules:
- a message is trusted only from the org the connection names (``outbound_org_id``; Salesforce
  sends the 18-character id, an admin may paste the 15-character one: the first 15 characters must
  match) and, when ``outbound_allow`` lists networks, from an address inside one of them;
- the body must be a SOAP envelope with a ``notifications`` element of the outbound namespace and at
  least one ``Notification``; a DTD or entity declaration is refused before parsing (SOAP has none,
  so none is ever needed — no entity expansion, no external entities);
- each notification carries one sObject (of the connection's object) with the fields the admin
  chose; ``xsi:nil`` fields are ``None``; nested relationship elements are skipped;
- the answer Salesforce expects is a ``notificationsResponse`` with ``<Ack>true</Ack>`` (HTTP 200,
  ``text/xml``); anything else — a SOAP fault with a 4xx/5xx — makes Salesforce retry the message
  (for up to 24 hours) and show the failure in Setup → Outbound Messages.
"""

from __future__ import annotations

import ipaddress
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from leadbridge.ports import WebhookMalformed, WebhookRejected

from .config import SalesforceConfig

OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
CONTENT_TYPE = "text/xml; charset=utf-8"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
).encode()
_DECLARATIONS = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class Notification:
    id: str
    sobject_type: str  # "Lead" (from ``xsi:type="sf:Lead"``)
    record: dict[str, str | None]


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: list[Notification] = field(default_factory=list)

    @property
    def record_ids(self) -> list[str]:
        return [n.record["Id"] or "" for n in self.notifications if n.record.get("Id")]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_outbound(body: bytes) -> OutboundMessage:
    """The message in ``body`` (module rules); ``WebhookMalformed`` for anything else."""
    if _DECLARATIONS.search(body):
        raise WebhookMalformed("a DTD or entity declaration is not allowed in an outbound message")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as error:
        raise WebhookMalformed(f"not XML: {error}") from None
    found = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or found is None:
        raise WebhookMalformed("not a Salesforce outbound message (no SOAP notifications element)")
    org = (found.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    if not org:
        raise WebhookMalformed("the message names no OrganizationId")
    notifications = []
    for element in found.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobject = element.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise WebhookMalformed("a Notification without its sObject")
        record: dict[str, str | None] = {}
        for child in sobject:
            if len(child):  # a relationship (e.g. Owner) with its own fields: not a column
                continue
            record[_local(child.tag)] = None if child.get(XSI_NIL) == "true" else (child.text or "")
        kind = (sobject.get(XSI_TYPE) or "").rsplit(":", 1)[-1]
        notifications.append(
            Notification((element.findtext(f"{{{OUTBOUND_NS}}}Id") or "").strip(), kind, record)
        )
    if not notifications:
        raise WebhookMalformed("the message carries no Notification")
    action = found.findtext(f"{{{OUTBOUND_NS}}}ActionId")
    return OutboundMessage(org, action.strip() if action else None, notifications)


def sender_allowed(config: SalesforceConfig, address: str) -> bool:
    """Whether ``address`` may send this connection outbound messages (``outbound_allow``)."""
    if not config.outbound_allow:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net.strip(), strict=False) for net in config.outbound_allow)


def verify(config: SalesforceConfig, message: OutboundMessage, object_name: str) -> None:
    """Refuse a message of another org (``WebhookRejected``) or of another object (``WebhookMalformed``)."""
    expected = (config.outbound_org_id or "").strip()
    if not expected or message.organization_id[:15] != expected[:15]:
        raise WebhookRejected(f"organization {message.organization_id[:15]} is not this connection's org")
    others = sorted({n.sobject_type for n in message.notifications if n.sobject_type != object_name})
    if others:
        raise WebhookMalformed(f"this endpoint takes {object_name} messages, not {', '.join(others)}")


def fault(message: str, *, client: bool = True) -> bytes:
    """A SOAP 1.1 fault Salesforce shows in its outbound message queue (and retries)."""
    code = "soapenv:Client" if client else "soapenv:Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body><soapenv:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{escape(message)}</faultstring>"
        "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    ).encode()
