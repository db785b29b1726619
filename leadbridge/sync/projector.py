"""Events → outbox rows, in the same flush (hence the same transaction) as the event itself.

Whoever appends a lead event — the router, the offer service, the web inbox, the sync engine — the
write it implies is queued by a ``before_flush`` hook on the runtime's sessionmaker (``attach``), so
no writer can forget it and an event never commits without its outbox row (or the other way round).

Rules:
- an event on a lead whose source connection is a registered *manufacturer* target queues a
  ``lead_status`` write-back for that connection (kinds in ``WRITEBACK_KINDS``), plus a ``task``
  row when that connection wants a Task per status change (kinds in ``TASK_KINDS``);
- an offer, accept, withdraw, expire, return or conflict event for a partner whose connection is a
  registered *partner* target queues a ``partner_lead`` write for that connection (a return — by the
  partner, or a reclaim by leadbridge — closes the partner's copy);
- a ``consent`` event that withdraws the lead from its holder (``how`` anonymise or delete) queues an
  ``erase`` row for the holder's CRM connection (``sync/erasure_writes.py`` finds the record);
- a partner on an *event* connection (a write-only partner kind: ``webhook``) gets one
  ``partner_event`` row per event that concerns it (``EVENT_TYPES``: offered, accepted, declined,
  returned, status, won, lost, withdrawn — an expiry is a withdrawal —, and erased for a consent
  withdrawal); the partner concerned is the event's, or for status/won/lost/return without one the
  lead's holder. These rows are messages, never coalesced (``sync/partner_events.py`` sends them);
- the row's idempotency key is ``target:kind:event id``: one row per event and target — except that
  a flush queues one ``lead_status`` / ``partner_lead`` row per lead (and partner), as those writes
  are built from the lead's state at sending time (``SETTLED_BY_STATE``).
Nothing is queued for connections that are not registered (CSV, API, the inbox), nor for imported
history (events with ``payload.history``, ``core/history.py``): the past is not news to any CRM.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from leadbridge.connectors.registry import default_registry
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.settings import CrmConnection, Settings
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OutboxRow, PartnerRow
from leadbridge.ports import Capability, ConnectorRegistry

WRITEBACK = "lead_status"
PARTNER_LEAD = "partner_lead"
TASK = "task"
EVENT = "partner_event"  # one message per event to an event connection (sync/partner_events.py)

E = EventKind
WRITEBACK_KINDS = frozenset(
    {E.ROUTE, E.DIRECT, E.OFFER, E.ACCEPT, E.DECLINE, E.EXPIRE, E.WITHDRAW, E.REROUTE, E.STATUS}
    | {E.WIN, E.LOSE, E.RETURN, E.NURTURE, E.CLOSE, E.REOPEN, E.CONFLICT}
)
TASK_KINDS = frozenset({E.ACCEPT, E.STATUS, E.WIN, E.LOSE, E.RETURN})
PARTNER_KINDS = frozenset(
    {E.OFFER, E.ACCEPT, E.WITHDRAW, E.EXPIRE, E.RETURN, E.CONFLICT}
)  # conflict: push ours again
ERASE = "erase"  # sync/erasure.py's row kind
# Lead events → the event type an event connection receives (``lead.<type>``); a consent event is
# ``erased`` only when it withdraws the lead (``how`` anonymise / delete).
EVENT_TYPES: dict[EventKind, str] = {
    E.OFFER: "offered",
    E.ACCEPT: "accepted",
    E.DECLINE: "declined",
    E.RETURN: "returned",
    E.STATUS: "status",
    E.WIN: "won",
    E.LOSE: "lost",
    E.WITHDRAW: "withdrawn",
    E.EXPIRE: "withdrawn",
    E.CONSENT: "erased",
}
HOLDER_KINDS = frozenset({E.STATUS, E.WIN, E.LOSE, E.RETURN})  # without a partner: the lead's holder's
CONNECTION_KINDS = PARTNER_KINDS | set(EVENT_TYPES)  # events whose partner's connection is looked up
# Row kinds whose write is built from the lead's state when it is sent, not from the event: several
# events of one lead in one flush (route + offer) need one such row, not one each. Task rows carry
# their event and are all kept.
SETTLED_BY_STATE = frozenset({WRITEBACK, PARTNER_LEAD})


@dataclass(frozen=True)
class SyncTargets:
    """Which connections get outbox rows (see the module rules)."""

    manufacturer: frozenset[str] = frozenset()
    partner: frozenset[str] = frozenset()
    tasks: frozenset[str] = frozenset()
    extra: dict[str, Any] = field(default_factory=dict)
    events: frozenset[str] = frozenset()  # partner connections that receive lead events (webhook)

    @classmethod
    def from_settings(cls, settings: Settings, registry: ConnectorRegistry | None = None) -> SyncTargets:
        """Connections of synced kinds (``Capability.SYNCED``) are targets; ``create_tasks: true``
        adds Task rows."""
        kinds = registry or default_registry()
        synced = {n: c for n, c in settings.connections.items() if kinds.can(c, Capability.SYNCED)}
        return cls(
            manufacturer=frozenset(n for n, c in synced.items() if c.role == "manufacturer"),
            partner=frozenset(n for n, c in synced.items() if c.role == "partner"),
            tasks=frozenset(n for n, c in synced.items() if isinstance(c, CrmConnection) and c.create_tasks),
            events=frozenset(
                n
                for n, c in settings.connections.items()
                if c.role == "partner" and kinds.can(c, Capability.WRITE_ONLY)
            ),
        )


def attach(database: Database, targets: SyncTargets) -> None:
    """Queue the write-backs of events flushed through ``database``'s sessions, for ``targets``.

    ``leadbridge.runtime`` calls it once per runtime; attaching again replaces the targets.
    """
    maker = database.sessionmaker
    for previous in [fn for fn in database.session_info.get(_HOOK, ())]:
        event.remove(maker, "before_flush", previous)
    hook = partial(_project, targets)
    event.listen(maker, "before_flush", hook)
    database.session_info[_HOOK] = [hook]
    database.session_info[_TARGETS] = targets


def targets_of(session: Session) -> SyncTargets:
    """The targets the projector of ``session``'s database queues rows for (none: no projector)."""
    targets = session.info.get(_TARGETS)
    return targets if isinstance(targets, SyncTargets) else SyncTargets()


_HOOK = "leadbridge_projector"
_TARGETS = "leadbridge_sync_targets"


def recipient_of(event_row: LeadEventRow, lead: LeadRow | None) -> str | None:
    """The partner an event concerns: its own, or for a holder's event without one the lead's holder."""
    if event_row.partner_id or lead is None or event_row.kind not in HOLDER_KINDS:
        return event_row.partner_id
    return lead.partner_id


def rows_for(
    event_row: LeadEventRow, lead: LeadRow | None, partner_connection: str | None, targets: SyncTargets
) -> list[OutboxRow]:
    """The outbox rows one new event needs (module rules), given its lead and the connection of the
    partner it concerns (``recipient_of``)."""
    if (event_row.payload or {}).get("history"):
        return []
    kind = EventKind(event_row.kind)
    found: list[OutboxRow] = []
    base = {
        "event_id": event_row.id,
        "event": event_row.kind,
        "partner_id": event_row.partner_id,
        "offer_id": event_row.offer_id,
    }
    home = lead.source_connection if lead is not None else None
    if home in targets.manufacturer:
        assert home is not None
        if kind in WRITEBACK_KINDS:
            found.append(_row(home, WRITEBACK, event_row, {**base, "partner_id": None}))
        if kind in TASK_KINDS and home in targets.tasks:
            found.append(_row(home, TASK, event_row, {**base, "payload": event_row.payload}))
    if kind in PARTNER_KINDS and partner_connection in targets.partner:
        assert partner_connection is not None
        found.append(_row(partner_connection, PARTNER_LEAD, event_row, base))
    how = (event_row.payload or {}).get("how")
    if kind is EventKind.CONSENT and partner_connection in targets.partner and how in ("anonymise", "delete"):
        assert partner_connection is not None
        payload = {"how": how, "partner_id": event_row.partner_id, "remote_id": None}
        found.append(_row(partner_connection, ERASE, event_row, payload))
    if partner_connection in targets.events and kind in EVENT_TYPES:
        assert partner_connection is not None
        if kind is not EventKind.CONSENT or how in ("anonymise", "delete"):
            recipient = recipient_of(event_row, lead)
            event = {**base, "partner_id": recipient, "type": EVENT_TYPES[kind], "how": how}
            found.append(_row(partner_connection, EVENT, event_row, event))
    return found


def _row(target: str, kind: str, event_row: LeadEventRow, payload: dict[str, Any]) -> OutboxRow:
    return OutboxRow(
        target=target,
        kind=kind,
        lead_id=event_row.lead_id,
        idempotency_key=f"{target}:{kind}:{event_row.id}",
        payload=payload,
        status="pending",
        attempts=0,
        next_attempt_at=event_row.occurred_at,
        created_at=event_row.occurred_at,
    )


def _project(targets: SyncTargets, session: Session, _context: Any, _instances: Any) -> None:
    if not (targets.manufacturer or targets.partner or targets.events):
        return
    new_events = [obj for obj in session.new if isinstance(obj, LeadEventRow)]
    if not new_events:
        return
    # A flush may carry a whole batch of events: their leads (new ones are not in the identity map
    # yet) and their partners' connections are looked up once for all of them.
    new_leads = {obj.id: obj for obj in session.new if isinstance(obj, LeadRow)}
    with session.no_autoflush:
        leads = {e.id: new_leads.get(e.lead_id) or session.get(LeadRow, e.lead_id) for e in new_events}
        recipients = {e.id: recipient_of(e, leads[e.id]) for e in new_events if e.kind in CONNECTION_KINDS}
        partner_ids = {partner_id for partner_id in recipients.values() if partner_id}
        connections: dict[str, str | None] = {}
        if partner_ids and (targets.partner or targets.events):
            query = select(PartnerRow.id, PartnerRow.connection).where(PartnerRow.id.in_(sorted(partner_ids)))
            connections = {partner_id: connection for partner_id, connection in session.execute(query)}
        queued: set[tuple[str, str, str | None, Any]] = set()
        for event_row in new_events:
            lead = leads[event_row.id]
            partner_connection = connections.get(recipients.get(event_row.id) or "")
            for outbox_row in rows_for(event_row, lead, partner_connection, targets):
                if outbox_row.kind in SETTLED_BY_STATE:
                    key = (
                        outbox_row.target,
                        outbox_row.kind,
                        outbox_row.lead_id,
                        outbox_row.payload["partner_id"],
                    )
                    if key in queued:
                        continue
                    queued.add(key)
                session.add(outbox_row)
