"""Recycling: a lead in nurture that qualifies later (a re-import, a CRM change, the API) is routed."""

from __future__ import annotations

from leadbridge.core.intake import IntakeResult, take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.model import Lead
from leadbridge.core.store.database import Database
from tests.builders import a_lead, a_partner


def test_given_a_nurture_lead_when_a_newer_version_is_qualified_then_it_is_qualified_for_routing(
    database: Database,
) -> None:
    first = a_lead(stage="lead")
    with database.transaction() as session:
        take_in(session, first, stamp="v1")
        assert LeadService(session).get_row(first.id).state == "nurture"
    with database.transaction() as session:
        same = take_in(session, first.model_copy(update={"title": "CTO"}), stamp="v2")
        assert (
            same.result is IntakeResult.UPDATED and LeadService(session).get_row(first.id).state == "nurture"
        )
    qualified = Lead.model_validate({**first.model_dump(), "stage": "sql"})
    with database.transaction() as session:
        again = take_in(session, qualified, stamp="v3")
        assert again.result is IntakeResult.UPDATED
        assert LeadService(session).get_row(first.id).state == "qualified"
        events = LeadService(session).events(first.id)
        assert [e.kind for e in events][-2:] == ["update", "qualify"] and events[-1].payload[
            "recycled"
        ] is True
    with database.transaction() as session:  # the same version again changes nothing
        assert take_in(session, qualified, stamp="v3").result is IntakeResult.UNCHANGED
        assert [e.kind for e in LeadService(session).events(first.id)].count("qualify") == 1


def test_given_a_lead_returned_as_not_a_lead_then_later_versions_keep_it_nurtured_until_its_stage_requalifies(
    database: Database,
) -> None:
    """The liveness suite's stall: our own write-back changed the CRM record, the next pull saw the
    (still MQL) lead and re-qualified it, and its second routing was a silent no-op ('qualified'
    forever). Only a stage that *became* qualified recycles, and a recycled lead routes again."""
    import random

    from leadbridge.core.offers import OfferService
    from leadbridge.core.router import route_pending
    from tests.routing.test_router import clock, policy

    with database.transaction() as session:
        a_partner(session, name="P0"), a_partner(session, name="P1")
    lead = a_lead(stage="mql")
    with database.transaction() as session:
        take_in(session, lead, stamp="v1")
    route_pending(database, policy=policy(max_rounds=5), clock=clock, rng=random.Random(1))
    with database.transaction() as session:
        offers = OfferService(session)
        first = offers.pending_for_lead(lead.id)[0]
        offers.accept(first.id, actor="p", partner_id=first.partner_id)
        offers.return_lead(lead.id, partner_id=first.partner_id, reason_code="not_a_lead", actor="p")
    route_pending(database, policy=policy(max_rounds=5), clock=clock, rng=random.Random(1))
    assert _state(database, lead.id) == "nurture"

    echo = lead.model_copy(update={"title": "written back by leadbridge"})
    with database.transaction() as session:
        take_in(session, echo, stamp="v2")  # the next version, still MQL: no recycling
    assert _state(database, lead.id) == "nurture"

    with database.transaction() as session:  # marketing sends it back to nurture, then it qualifies
        take_in(session, Lead.model_validate({**echo.model_dump(), "stage": "lead"}), stamp="v3")
        take_in(session, Lead.model_validate({**echo.model_dump(), "stage": "sql"}), stamp="v4")
    assert _state(database, lead.id) == "qualified"
    route_pending(database, policy=policy(max_rounds=5), clock=clock, rng=random.Random(1))
    assert _state(database, lead.id) == "offered"  # routed again, not stuck in 'qualified'
    with database.transaction() as session:  # and the partner holding it may return it this round
        offers = OfferService(session)
        second = offers.pending_for_lead(lead.id)[0]
        offers.accept(second.id, actor="p", partner_id=second.partner_id)
        returned = offers.return_lead(lead.id, partner_id=second.partner_id, reason_code="no_fit", actor="p")
        assert returned.created
    assert _state(database, lead.id) == "returned"


def _state(database: Database, lead_id: str) -> str:
    with database.transaction() as session:
        return LeadService(session).get_row(lead_id).state
