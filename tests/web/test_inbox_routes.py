"""Partner inbox pages: every action, and every error (decided/expired offers, forged CSRF tokens)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from leadbridge.core.model import utcnow
from leadbridge.core.policy import default_policy
from leadbridge.core.router import route_pending
from leadbridge.core.store.tables import LeadEventRow, LeadRow, OfferRow, OutboxRow
from leadbridge.web.accounts import revoke_partner_user
from tests.web.conftest import World, csrf_from


def _post(client, path: str, data: dict[str, str] | None = None, *, page: str = "/inbox"):  # type: ignore[no-untyped-def]
    return client.post(path, data={"csrf_token": csrf_from(client, page), **(data or {})})


def _state(world: World, lead_id: str) -> str:
    with world.database.transaction() as session:
        row = session.get(LeadRow, lead_id)
        assert row is not None
        return row.state


def _outbox_kinds(world: World, lead_id: str) -> list[str]:
    with world.database.transaction() as session:
        return [
            r.payload["event"]
            for r in session.execute(
                select(OutboxRow).where(OutboxRow.lead_id == lead_id).order_by(OutboxRow.id)
            ).scalars()
        ]


def test_given_no_session_when_opening_the_inbox_then_redirected_to_sign_in(world: World) -> None:
    response = world.client().get("/inbox")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox/signin"


def test_given_an_open_offer_when_listed_then_the_preview_is_blind(world: World) -> None:
    client = world.partner_client(world.user_a)
    with world.database.transaction() as session:
        lead = session.get(LeadRow, world.lead_a)
        assert lead is not None
        company, email = lead.company, lead.email
        last_name = lead.data["last_name"]
    for path in ("/inbox", f"/inbox/offers/{world.offer_a}"):
        page = client.get(path)
        assert page.status_code == 200
        assert "DE-80" in page.text and "manufacturing" in page.text and "smb" in page.text
        for secret in (company, email, last_name, "München"):
            assert secret not in page.text
    assert "Offene Angebote" in client.get("/inbox").text  # user A reads German


def test_when_accepting_then_the_full_lead_shows_and_a_write_back_is_queued(world: World) -> None:
    client = world.partner_client(world.user_a)
    response = _post(client, f"/inbox/offers/{world.offer_a}/accept")
    assert response.status_code == 303
    assert response.headers["location"] == f"/inbox/leads/{world.lead_a}?done=accepted"
    page = client.get(response.headers["location"])
    with world.database.transaction() as session:
        lead = session.get(LeadRow, world.lead_a)
        assert lead is not None and lead.email and lead.company
    assert lead.email in page.text and lead.company in page.text
    assert _state(world, world.lead_a) == "accepted"
    assert _outbox_kinds(world, world.lead_a) == ["route", "offer", "accept"]


def test_when_accepting_twice_then_the_second_tap_is_a_harmless_replay(world: World) -> None:
    client = world.partner_client(world.user_a)
    assert _post(client, f"/inbox/offers/{world.offer_a}/accept").status_code == 303
    assert _post(client, f"/inbox/offers/{world.offer_a}/accept").status_code == 303
    assert _outbox_kinds(world, world.lead_a) == ["route", "offer", "accept"]


def test_when_declining_with_a_reason_then_the_offer_is_declined(world: World) -> None:
    client = world.partner_client(world.user_a)
    response = _post(
        client, f"/inbox/offers/{world.offer_a}/decline", {"reason_code": "no_capacity", "comment": "holiday"}
    )
    assert response.status_code == 303
    with world.database.transaction() as session:
        offer = session.get(OfferRow, world.offer_a)
        assert offer is not None
        assert (offer.status, offer.reason_code, offer.comment) == ("declined", "no_capacity", "holiday")
    assert _outbox_kinds(world, world.lead_a) == ["route", "offer", "decline"]


def test_when_declining_with_an_unknown_reason_then_422_and_nothing_changes(world: World) -> None:
    client = world.partner_client(world.user_a)
    response = _post(client, f"/inbox/offers/{world.offer_a}/decline", {"reason_code": "bored"})
    assert response.status_code == 422
    assert "no_fit" in response.text  # the message names the choices
    assert _outbox_kinds(world, world.lead_a) == ["route", "offer"]


def test_given_a_decided_offer_when_accepting_then_409(world: World) -> None:
    client = world.partner_client(world.user_a)
    _post(client, f"/inbox/offers/{world.offer_a}/decline", {"reason_code": "no_fit"})
    response = _post(client, f"/inbox/offers/{world.offer_a}/accept")
    assert response.status_code == 409
    assert "already declined" in response.text
    assert _state(world, world.lead_a) == "offered"


def test_given_an_offer_past_its_deadline_when_accepting_then_409(world: World) -> None:
    lead_id, offer_id = world.offer(world.partner_a, deadline_hours=-1)
    response = _post(world.partner_client(world.user_a), f"/inbox/offers/{offer_id}/accept")
    assert response.status_code == 409
    assert "expired" in response.text
    assert _state(world, lead_id) == "offered"


@pytest.mark.parametrize("token", ["", "0" * 64, "forged"])
def test_given_a_forged_csrf_token_when_posting_then_403_and_nothing_changes(
    world: World, token: str
) -> None:
    client = world.partner_client(world.user_a)
    client.get("/inbox")
    response = client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": token})
    assert response.status_code == 403
    assert _state(world, world.lead_a) == "offered"


def test_given_another_browsers_csrf_token_when_posting_then_403(world: World) -> None:
    other = world.partner_client(world.user_a)
    stolen = csrf_from(other, "/inbox")
    client = world.partner_client(world.user_a)  # a different session of the same user
    response = client.post(f"/inbox/offers/{world.offer_a}/accept", data={"csrf_token": stolen})
    assert response.status_code == 403


def _accepted(world: World) -> None:
    _post(world.partner_client(world.user_b), f"/inbox/offers/{world.offer_b}/accept")
    assert _state(world, world.lead_b) == "accepted"


LEAD_FORMS = {
    "status": {"status": "meeting"},
    "contact": {"channel": "phone"},
    "note": {"text": "x"},
    "win": {"amount": "100"},
    "lose": {"reason_code": "no_budget"},
    "return": {"reason_code": "no_fit"},
    "rate": {"rating": "4"},
}


def test_another_partners_ids_are_404_on_every_partner_route(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    _accepted(world)  # lead B is held by partner B
    client = world.partner_client(world.user_a)
    caplog.set_level("WARNING", logger="leadbridge.security")
    assert client.get(f"/inbox/offers/{world.offer_b}").status_code == 404
    assert client.get(f"/inbox/leads/{world.lead_b}").status_code == 404
    assert _post(client, f"/inbox/offers/{world.offer_b}/accept").status_code == 404
    assert (
        _post(client, f"/inbox/offers/{world.offer_b}/decline", {"reason_code": "no_fit"}).status_code == 404
    )
    for action, form in LEAD_FORMS.items():
        assert _post(client, f"/inbox/leads/{world.lead_b}/{action}", form).status_code == 404, action
    denied = [r for r in caplog.records if "denied" in r.getMessage()]
    assert len(denied) == 4 + len(LEAD_FORMS)
    assert _state(world, world.lead_b) == "accepted"
    # an id that does not exist answers exactly the same
    assert client.get("/inbox/offers/O-doesnotexist").status_code == 404


def test_working_a_lead_from_accept_to_win(world: World) -> None:
    client = world.partner_client(world.user_a)
    _post(client, f"/inbox/offers/{world.offer_a}/accept")
    page = f"/inbox/leads/{world.lead_a}"
    status = {
        "status": "meeting",
        "expected_revenue": "12000",
        "close_date": "2027-01-31",
        "next_follow_up": "2026-12-01",
        "note": "site visit",
    }
    for action, form in [
        ("contact", {"channel": "phone", "reached": "1", "note": "voicemail"}),
        ("status", status),
        ("note", {"text": "wants a quote"}),
        ("rate", {"rating": "5"}),
        ("win", {"amount": "11800.50", "close_date": "2026-12-20"}),
    ]:
        response = _post(client, f"{page}/{action}", form, page=page)
        assert response.status_code == 303, (action, response.text)
    assert _state(world, world.lead_a) == "won"
    # notes, contact attempts and ratings stay in the log; the home CRM gets status changes
    assert _outbox_kinds(world, world.lead_a) == ["route", "offer", "accept", "status", "win"]
    with world.database.transaction() as session:
        payloads = {
            e.kind: e.payload
            for e in session.execute(
                select(LeadEventRow).where(LeadEventRow.lead_id == world.lead_a)
            ).scalars()
        }
    assert payloads["status"]["expected_revenue"] == "12000"
    assert payloads["status"]["next_follow_up"] == "2026-12-01"
    assert payloads["win"]["amount"] == "11800.50"
    lead_page = client.get(page).text
    assert "11800.50" in lead_page and "Termin" in lead_page  # German status label in history
    # a won lead takes no status any more
    assert _post(client, f"{page}/status", {"status": "proposal"}, page=page).status_code == 409


def test_when_marking_lost_then_the_reason_is_recorded(world: World) -> None:
    client = world.partner_client(world.user_a)
    _post(client, f"/inbox/offers/{world.offer_a}/accept")
    page = f"/inbox/leads/{world.lead_a}"
    assert _post(client, f"{page}/lose", {"reason_code": "lost_to_competitor"}, page=page).status_code == 303
    assert _state(world, world.lead_a) == "lost"
    assert _post(client, f"{page}/lose", {"reason_code": "no_budget"}, page=page).status_code == 409


@pytest.mark.parametrize(
    ("reason", "after_routing"), [("no_fit", "offered"), ("not_a_lead", "nurture"), ("duplicate", "closed")]
)
def test_when_returning_then_the_router_follows_the_reason(
    world: World, reason: str, after_routing: str
) -> None:
    client = world.partner_client(world.user_a)
    _post(client, f"/inbox/offers/{world.offer_a}/accept")
    page = f"/inbox/leads/{world.lead_a}"
    response = _post(client, f"{page}/return", {"reason_code": reason}, page=page)
    assert response.status_code == 303 and response.headers["location"] == "/inbox?done=returned"
    assert _state(world, world.lead_a) == "returned"
    assert client.get(page).status_code == 404  # no longer held
    with world.database.transaction() as session:
        offer = session.get(OfferRow, world.offer_a)
        assert offer is not None and (offer.status, offer.reason_code) == ("returned", reason)
    # the router moves it on: "no_fit" re-routes (to partner B; A is barred), the others per the catalog
    route_pending(world.database, policy=default_policy(), lead_ids=[world.lead_a])
    assert _state(world, world.lead_a) == after_routing


def test_when_switching_language_then_pages_follow(world: World) -> None:
    client = world.partner_client(world.user_b)
    assert "Open offers" in client.get("/inbox").text
    response = _post(client, "/inbox/language", {"language": "de", "back": "/inbox"})
    assert response.status_code == 303
    assert "Offene Angebote" in client.get("/inbox").text


def test_given_a_revoked_user_when_using_the_session_then_signed_out(world: World) -> None:
    client = world.partner_client(world.user_a)
    assert client.get("/inbox").status_code == 200
    with world.database.transaction() as session:
        revoke_partner_user(session, "anna@alpha.example")
    assert client.get("/inbox").status_code == 303


def test_given_an_inactive_partner_when_using_the_session_then_signed_out(world: World) -> None:
    from leadbridge.core.store.tables import PartnerRow

    client = world.partner_client(world.user_a)
    with world.database.transaction() as session:
        session.execute(update(PartnerRow).where(PartnerRow.id == world.partner_a).values(active=False))
    assert client.get("/inbox").status_code == 303


def test_given_an_expired_session_then_signed_out(world: World) -> None:
    from leadbridge.core.store.web_tables import WebSessionRow

    client = world.partner_client(world.user_a)
    with world.database.transaction() as session:
        session.execute(update(WebSessionRow).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/inbox").status_code == 303
