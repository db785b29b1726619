"""Recycling: a lead in nurture that qualifies later (a re-import, a CRM change, the API) is routed."""

from __future__ import annotations

from leadbridge.core.intake import IntakeResult, take_in
from leadbridge.core.leads import LeadService
from leadbridge.core.model import Lead
from leadbridge.core.store.database import Database
from tests.builders import a_lead


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
