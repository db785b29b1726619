"""Lead events for partners on an event connection (``kind: webhook``): one signed message per event.

Rules (the payload is documented in docs/webhooks.md):
- each ``partner_event`` outbox row is one message, built when it is sent: the event's own facts
  (type, sequence, time, reason, amount, status) from the event log, the offer and the lead as they
  are *now*; ``webhook-id`` is the lead event's id, so a redelivery or a replay carries the same id;
- before the partner accepted, a message names the offer only (``offer_id`` and the blind preview of
  ``GET /api/v1/partner/offers/{id}``) — no lead id, nothing identifying; ``accepted`` carries the
  lead as ``GET /api/v1/partner/leads/{id}`` shows it (identity only where the consent scope covers
  the partner); later messages name the lead by id;
- an ``erase`` row (the lead was erased) and a consent withdrawal become ``erased``: the lead id (if
  the partner held it) and the offer ids it knows, nothing else; once delivered, an
  ``erasure_notice`` event proves who was told when;
- an event of a lead erased since is not sent (its rows were removed by the erasure anyway);
- after one message fails for a reason that is not its own (5xx, 429, network, a refused signature)
  the rest of the batch is not tried: each counts a try and is due again per the backoff, so an
  endpoint that is down costs one retry budget per flush, not one per message;
- the retries run over hours (``EVENT_RETRIES``), then the row is a dead letter: visible in the
  cockpit (``/cockpit/outbox``) and ``leadbridge outbox list``, replayed from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadbridge.connectors.inbox.preview import blind_preview
from leadbridge.core.leads import LeadService, lead_from_row
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.privacy.shares import lead_for_partner, partner_facts
from leadbridge.core.retry import RetryPolicy
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, OutboxRow
from leadbridge.ports import Action, Connector, WriteItem, WriteResult
from leadbridge.sync.deliver import GroupKey, Planned
from leadbridge.sync.outbox import OutboxSettings
from leadbridge.sync.projector import ERASE, EVENT

STREAM = "events"
# Rows per claim: results are recorded after each claim, so a crash re-sends at most this many
# messages (receivers dedupe on webhook-id), and a slow endpoint never holds thousands of claims.
EVENT_BATCH = 100
# Tries 1..12, each after uniform(0, min(4 h, 1 min · 2^(n-1))): the first ones within minutes, the
# last ones hours apart; a partner endpoint that is down for most of a day still gets its events.
EVENT_RETRIES = OutboxSettings(
    max_attempts=12,
    stale_after=timedelta(seconds=60),
    backoff=RetryPolicy(base=60.0, cap=4 * 3600.0),
)
# What of an event's payload a message carries (per type; nothing else leaves).
DETAIL_KEYS: dict[str, tuple[str, ...]] = {
    "declined": ("reason_code", "comment"),
    "returned": ("reason_code", "comment"),
    "status": ("status", "expected_revenue", "close_date", "next_follow_up", "note"),
    "won": ("amount", "currency", "close_date"),
    "lost": ("reason_code", "comment"),
    "withdrawn": ("comment",),
}
OFFER_STAGE = frozenset({"offered", "declined", "withdrawn"})  # the partner does not hold the lead


class EventWriter:
    """Builds and sends the messages of one event connection (module rules)."""

    def __init__(self, connector: Connector, *, public_url: str = "") -> None:
        self.connector = connector
        self.name = str(getattr(connector, "name", ""))
        self.api = f"{public_url.rstrip('/')}/api/v1/partner"

    # -- build ---------------------------------------------------------------------------------
    def build(self, session: Session, groups: dict[GroupKey, list[OutboxRow]]) -> list[Planned]:
        rows = [(group, found[0]) for group, found in groups.items() if group[1] in (EVENT, ERASE)]
        event_ids = [str(row.payload.get("event_id")) for _, row in rows if row.kind == EVENT]
        events = {
            e.id: e
            for e in session.execute(select(LeadEventRow).where(LeadEventRow.id.in_(event_ids))).scalars()
        }
        lead_ids = sorted({group[0] for group, _ in rows})
        leads = {r.id: r for r in session.execute(select(LeadRow).where(LeadRow.id.in_(lead_ids))).scalars()}
        offers = _offers(session, lead_ids)
        planned: list[Planned] = []
        for group, row in rows:
            lead = leads.get(group[0])
            partner_id = str(row.payload.get("partner_id") or "")
            if lead is None:
                continue
            if row.kind == ERASE:
                data = self._erased(lead, offers, partner_id, str(row.payload.get("how") or ""), "erasure")
                planned.append(Planned(group, STREAM, WriteItem(f"erase_{lead.id}_{partner_id}", data)))
                continue
            event = events.get(str(row.payload.get("event_id")))
            kind = str(row.payload.get("type"))
            if event is None or (lead.state == LeadState.ERASED.value and kind != "erased"):
                continue  # the event or its lead's data is gone: nothing to tell any more
            if kind == "erased":  # a consent withdrawal: the same message as an erasure, and its event
                message = self._erased(lead, offers, partner_id, str(row.payload.get("how") or ""), "consent")
                message["data"].update(
                    event_id=event.id, sequence=event.seq, occurred_at=event.occurred_at.isoformat()
                )
            else:
                data = self._event_data(session, kind, event, lead, offers, partner_id)
                message = {"type": kind, "data": data}
            planned.append(Planned(group, STREAM, WriteItem(event.id, message)))
        return planned

    def _event_data(
        self,
        session: Session,
        kind: str,
        event: LeadEventRow,
        lead: LeadRow,
        offers: dict[str, OfferRow],
        partner_id: str,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "event_id": event.id,
            "sequence": event.seq,
            "occurred_at": event.occurred_at.isoformat(),
            "partner_id": partner_id,
            "offer_id": event.offer_id,
        }
        payload = event.payload or {}
        for key in DETAIL_KEYS.get(kind, ()):
            if payload.get(key) is not None:
                data[key] = payload[key]
        if kind == "withdrawn":  # an expiry is a withdrawal for the partner; the comment says why
            data["reason_code"] = "expired" if event.kind == EventKind.EXPIRE.value else "withdrawn"
        offer = offers.get(event.offer_id or "")
        if kind in OFFER_STAGE:
            if kind == "offered" and offer is not None:
                data["offer"] = blind_preview(offer, lead.data or {}).model_dump(mode="json")
                data["links"] = {
                    "offer": f"{self.api}/offers/{offer.id}",
                    "accept": f"{self.api}/offers/{offer.id}/accept",
                    "decline": f"{self.api}/offers/{offer.id}/decline",
                }
            return data
        data["lead_id"] = lead.id
        data["links"] = {"lead": f"{self.api}/leads/{lead.id}"}
        if kind == "accepted" and lead.partner_id == partner_id:
            facts = partner_facts(session, [partner_id]).get(partner_id)
            data["lead"] = lead_for_partner(lead_from_row(lead), facts).model_dump(mode="json")
            base = data["links"]["lead"]
            for action in ("status", "outcome", "notes", "return"):
                data["links"][action] = f"{base}/{action}"
        return data

    @staticmethod
    def _erased(
        lead: LeadRow, offers: dict[str, OfferRow], partner_id: str, how: str, reason: str
    ) -> dict[str, Any]:
        known = sorted(o.id for o in offers.values() if o.lead_id == lead.id and o.partner_id == partner_id)
        held = any(
            o.status in ("accepted", "returned")
            for o in offers.values()
            if o.lead_id == lead.id and o.partner_id == partner_id
        )
        data: dict[str, Any] = {
            "type": "erased",
            "data": {
                "partner_id": partner_id,
                "offer_ids": known,
                "how": how or "delete",
                "reason_code": reason,
            },
        }
        if held:
            data["data"]["lead_id"] = lead.id
        return data

    # -- send ----------------------------------------------------------------------------------
    def send(self, stream: str, items: Sequence[WriteItem]) -> list[WriteResult]:
        """Send in order; after a failure that is not the message's own, the rest wait (module rules)."""
        results: list[WriteResult] = []
        for n, item in enumerate(items):
            [result] = self.connector.write_batch(stream, [item])
            results.append(result)
            if not result.ok and result.action in (Action.RETRY, Action.FATAL):
                why = f"not sent: the endpoint failed an earlier event ({result.error})"
                results += [
                    WriteResult(rest.key, False, error=why, action=Action.RETRY) for rest in items[n + 1 :]
                ]
                break
        return results

    # -- record --------------------------------------------------------------------------------
    def record(self, session: Session, written: list[tuple[Planned, WriteResult]], now: datetime) -> None:
        """Prove each delivered ``erased`` message with an ``erasure_notice`` event."""
        service = LeadService(session, lambda: now)
        for planned, _result in written:
            if planned.item.fields.get("type") != "erased":
                continue
            lead_id, data = planned.group[0], planned.item.fields["data"]
            why = str(data.get("reason_code"))
            lead = session.get(LeadRow, lead_id)
            version = "" if why == "erasure" or lead is None else f":{lead.version}"
            service.apply(
                lead_id,
                EventKind.ERASURE_NOTICE,
                actor=f"sync:{self.name}",
                source_system=self.name,
                idempotency_key=f"erasure_notice:{self.name}:{lead_id}:{data.get('partner_id')}:{why}{version}",
                partner_id=str(data.get("partner_id") or "") or None,
                payload={"target": self.name, "how": data.get("how"), "reason_code": why},
            )


def _offers(session: Session, lead_ids: list[str]) -> dict[str, OfferRow]:
    if not lead_ids:
        return {}
    found = session.execute(select(OfferRow).where(OfferRow.lead_id.in_(lead_ids))).scalars()
    return {offer.id: offer for offer in found}
