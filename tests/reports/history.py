"""A scripted history for the report tests: plain records, stored as rows, whose totals the tests
compute again from the records themselves (never through the report code)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from leadbridge.core.leads import LeadService
from leadbridge.core.model import new_id
from leadbridge.core.reports.costs import CampaignCost, add_cost
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow
from tests.builders import a_lead, a_partner

START = datetime(2026, 10, 1, tzinfo=UTC)
CAMPAIGNS = ["spring-fair", "webinar", None]
COUNTRIES = ["DE", "AT", "CH"]
PRODUCTS = [["heat_pumps"], ["solar"], ["heat_pumps", "solar"], []]
STATUSES = ["accepted", "declined", "expired", "returned", "pending", "withdrawn"]
DECLINE_REASONS = ["no_capacity", "not_a_lead", "no_fit"]


@dataclass
class ScriptedOffer:
    partner: str
    status: str
    mode: str
    offered_at: datetime
    decided_at: datetime | None
    deadline: datetime | None
    reason: str | None


@dataclass
class ScriptedEvent:
    kind: str  # win, lose, return, rating, status (a first contact or later progress)
    partner: str
    at: datetime
    amount: Decimal | None = None
    reason: str | None = None
    rating: int | None = None


@dataclass
class ScriptedLead:
    id: str
    campaign: str | None
    country: str
    products: list[str]
    created_at: datetime
    holder: str | None
    offers: list[ScriptedOffer] = field(default_factory=list)
    events: list[ScriptedEvent] = field(default_factory=list)


@dataclass
class History:
    partners: dict[str, str]  # id -> name
    leads: list[ScriptedLead]
    costs: list[CampaignCost]


def script(session: Session, seed: int = 7, size: int = 60) -> History:
    """Store a random but reproducible history and return its records."""
    rng = random.Random(seed)
    names = ["Müller GmbH", "Schmidt AG", "Weber KG"]
    partners = {a_partner(session, name=name).id: name for name in names}
    ids = list(partners)
    leads: list[ScriptedLead] = []
    for number in range(size):
        created = START + timedelta(days=rng.randint(0, 60), hours=rng.randint(0, 23))
        lead = ScriptedLead(
            id="",
            campaign=rng.choice(CAMPAIGNS),
            country=rng.choice(COUNTRIES),
            products=rng.choice(PRODUCTS),
            created_at=created,
            holder=rng.choice([*ids, None]),
        )
        model = a_lead(
            campaign=lead.campaign,
            product_interests=lead.products,
            address={"postal_code": "1010", "city": "X", "country": lead.country},
        )
        LeadService(session, clock=lambda at=created: at).receive(
            model, actor="test", source_system="test", idempotency_key=f"r:{model.id}"
        )
        lead.id = model.id
        row = session.get(LeadRow, model.id)
        assert row is not None
        row.partner_id = lead.holder
        for _ in range(rng.randint(1, 3)):
            status = rng.choice(STATUSES)
            offered = created + timedelta(hours=rng.randint(0, 48))
            decided = None if status == "pending" else offered + timedelta(hours=rng.choice([1, 3, 10, 30]))
            deadline = offered + timedelta(hours=24) if rng.random() < 0.7 else None
            reason = rng.choice(DECLINE_REASONS) if status == "declined" else None
            lead.offers.append(
                ScriptedOffer(
                    rng.choice(ids),
                    status,
                    rng.choice(["assign", "offer_n", "pool"]),
                    offered,
                    decided,
                    deadline,
                    reason,
                )
            )
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(["win", "lose", "return", "rating", "status"])
            event = ScriptedEvent(kind, rng.choice(ids), created + timedelta(days=rng.randint(1, 20)))
            if kind == "win":
                event.amount = Decimal(rng.randint(100, 90000)) / 100
            elif kind == "status":
                event.at = created + timedelta(hours=rng.randint(2, 60))  # often soon after accepting
            elif kind in ("lose", "return"):
                event.reason = rng.choice(["no_budget", "not_a_lead", "postponed"])
            else:
                event.rating = rng.randint(1, 5)
            lead.events.append(event)
        _store(session, lead, number)
        leads.append(lead)
    costs = [
        CampaignCost("spring-fair", date(2026, 10, 3), Decimal("1200.00")),
        CampaignCost("spring-fair", date(2026, 11, 20), Decimal("800.50")),
        CampaignCost("webinar", date(2026, 10, 15), Decimal("300.00")),
        CampaignCost("print", date(2026, 10, 15), Decimal("99.99")),
    ]
    for cost in costs:
        add_cost(session, cost)
    return History(partners, leads, costs)


def _store(session: Session, lead: ScriptedLead, number: int) -> None:
    for offer in lead.offers:
        session.add(
            OfferRow(
                id=new_id("O"),
                lead_id=lead.id,
                partner_id=offer.partner,
                round=1,
                mode=offer.mode,
                status=offer.status,
                offered_at=offer.offered_at,
                deadline=offer.deadline,
                decided_at=offer.decided_at,
                reason_code=offer.reason,
                decision={},
            )
        )
    for seq, event in enumerate(lead.events, start=10):
        payload: dict[str, object]
        if event.kind == "win":
            payload = {"result": "won", "amount": str(event.amount), "currency": "EUR"}
        elif event.kind == "rating":
            payload = {"type": "rating", "rating": event.rating}
        elif event.kind == "status":
            payload = {"status": "contacted"}
        else:
            payload = {"reason_code": event.reason}
        session.add(
            LeadEventRow(
                id=new_id("E"),
                lead_id=lead.id,
                seq=seq,
                kind="note" if event.kind == "rating" else event.kind,
                from_state=None,
                to_state="working",
                actor="test",
                source_system="test",
                occurred_at=event.at,
                idempotency_key=f"{event.kind}:{lead.id}:{seq}:{number}",
                partner_id=event.partner,
                payload=payload,
            )
        )
