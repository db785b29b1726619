"""A deterministic stand-in router for sync tests: it offers each waiting lead to the next partner
that has not had it yet, and re-routes offered leads whose offers were all declined or expired.
The real router (``leadbridge.core.router``) is tested with matching; here routing is scaffolding."""

from __future__ import annotations

from sqlalchemy import select

from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind, LeadState
from leadbridge.core.model import OfferStatus
from leadbridge.core.offers import OfferService
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OfferRow, PartnerRow


def round_robin_router(database: Database) -> int:
    routed = 0
    with database.transaction() as session:
        partners = list(session.execute(select(PartnerRow.id).order_by(PartnerRow.name)).scalars())
        waiting = session.execute(
            select(LeadRow)
            .where(LeadRow.state.in_(["qualified", "routing", "offered", "returned"]))
            .order_by(LeadRow.id)
        ).scalars()
        leads, offers = LeadService(session), OfferService(session)
        for number, lead in enumerate(list(waiting)):
            had = {
                o.partner_id: o.status
                for o in session.execute(select(OfferRow).where(OfferRow.lead_id == lead.id)).scalars()
            }
            if lead.state == LeadState.OFFERED:
                if any(status == OfferStatus.PENDING for status in had.values()):
                    continue
                leads.apply(
                    lead.id,
                    EventKind.REROUTE,
                    actor="router",
                    idempotency_key=f"reroute:{lead.id}:{lead.round}",
                )
            elif lead.state == LeadState.RETURNED:
                leads.apply(
                    lead.id, EventKind.REROUTE, actor="router", idempotency_key=f"back:{lead.id}:{lead.round}"
                )
            elif lead.state == LeadState.QUALIFIED:
                leads.apply(lead.id, EventKind.ROUTE, actor="router", idempotency_key=f"route:{lead.id}")
            fresh = [p for p in partners if p not in had]
            if not fresh:
                continue
            partner = fresh[number % len(fresh)]
            offers.create(lead.id, partner, round=lead.round, mode="assign", deadline=None, decision={})
            routed += 1
    return routed
