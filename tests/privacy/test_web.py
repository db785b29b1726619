"""Erasure, subject access and the audit log through the cockpit and the REST API."""

from __future__ import annotations

from leadbridge.core.leads import LeadService
from leadbridge.core.model import utcnow
from leadbridge.core.offers import OfferService
from leadbridge.core.store.tables import OutboxRow
from leadbridge.notify.dispatch import resend_retried
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.notify.service import Notifier
from leadbridge.web.accounts import create_api_key
from tests.web.conftest import SmtpServer, World, csrf_from, smtp_server, world

__all__ = ["smtp_server", "world"]  # fixtures used by the tests below


def _email(world: World, lead_id: str) -> str:
    with world.database.transaction() as session:
        return str(LeadService(session).get_row(lead_id).email)


def _company(world: World, lead_id: str) -> str:
    with world.database.transaction() as session:
        return str(LeadService(session).get_row(lead_id).company)


def test_given_a_lead_page_when_the_admin_erases_it_then_the_view_and_the_erasure_are_audited(
    world: World, smtp_server: SmtpServer
) -> None:
    admin = world.admin_client()
    email, company = _email(world, world.lead_a), _company(world, world.lead_a)
    page = admin.get(f"/cockpit/leads/{world.lead_a}")
    assert page.status_code == 200 and "data subject" in page.text and company in page.text
    assert "Re-route</button>" in page.text and "Assign</button>" in page.text  # offered: both allowed
    token = csrf_from(admin, f"/cockpit/leads/{world.lead_a}")
    erased = admin.post(
        f"/cockpit/leads/{world.lead_a}/erase", data={"csrf_token": token, "reason": "ticket 7"}
    )
    assert erased.status_code == 303 and erased.headers["location"].endswith("done=erased")
    after = admin.get(f"/cockpit/leads/{world.lead_a}")
    assert "Erased at the data subject" in after.text and company not in after.text
    # an erased lead offers no action the server would refuse
    assert "Re-route</button>" not in after.text and "Assign</button>" not in after.text
    # the timeline reads as sentences: the erasure, then the inbox partner told at once
    assert "Personal data erased (ticket 7); telling the inbox" in after.text
    assert "told in the inbox: erased at the data subject" in after.text
    with world.database.transaction() as session:
        [offer] = OfferService(session).for_lead(world.lead_a)
        assert offer.status.value == "withdrawn" and offer.reason_code == "erased"
    partner = world.partner_client(world.user_a)
    assert world.offer_a not in partner.get("/inbox").text  # the pending offer is gone from the inbox

    # the inbox partner's users get a mail through a pending mail row: once, lead id only
    with world.database.transaction() as session:
        [row] = session.query(OutboxRow).filter_by(target="mail", lead_id=world.lead_a).all()
        assert (row.kind, row.status, row.payload["partner_id"]) == (
            "erasure_notice",
            "pending",
            world.partner_a,
        )
    broken = Notifier(world.database, world.settings, SmtpMailer("127.0.0.1", 9, "x@example.com", timeout=2))
    assert resend_retried(broken) == 0  # the server is away: a dead letter, visible and retryable
    with world.database.transaction() as session:
        [row] = session.query(OutboxRow).filter_by(target="mail", lead_id=world.lead_a).all()
        assert row.status == "dead" and row.last_error
        row.status = "pending"  # what the cockpit's Retry does
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leads@maker.example")
    assert resend_retried(Notifier(world.database, world.settings, mailer)) == 1
    [mail] = [m for m in smtp_server.messages if world.lead_a in str(m["Subject"])]
    assert mail["To"] == "anna@alpha.example" and email not in mail.as_string()
    body = mail.get_payload(decode=True).decode()
    assert "Art. 17" in body and world.lead_a in body and company not in body
    assert resend_retried(Notifier(world.database, world.settings, mailer)) == 0  # sent once

    audit_page = admin.get(f"/cockpit/audit?lead_id={world.lead_a}")
    rows = [line for line in audit_page.text.splitlines() if "admin:admin@maker.example" in line]
    assert [("view_lead" in r, "erase" in r) for r in rows][-3:] == [
        (False, True),
        (True, False),
        (True, False),
    ]
    exported = admin.get("/cockpit/audit.csv")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines()[0] == "at,actor,channel,action,lead_id,subject_ref,detail"
    assert f"cockpit,erase,{world.lead_a}" in exported.text and email not in exported.text


def test_given_an_admin_key_when_exporting_and_erasing_a_subject_then_the_api_answers_and_audits(
    world: World,
) -> None:
    with world.database.transaction() as session:
        key = create_api_key(session, "dpo-tool")[1]
    api = world.client()
    api.headers["Authorization"] = f"Bearer {key}"
    email = _email(world, world.lead_b)
    found = api.post("/api/v1/subjects/export", json={"email": email.upper()}).json()
    assert [lead["id"] for lead in found["leads"]] == [world.lead_b]
    report = api.post(f"/api/v1/leads/{world.lead_b}/erase", json={"reason": "Art. 17"}).json()
    assert report["lead_id"] == world.lead_b and [r["target"] for r in report["recipients"]] == ["inbox"]
    assert api.post(f"/api/v1/leads/{world.lead_b}/erase", json={}).json()["already"] is True
    assert api.post("/api/v1/subjects/export", json={"email": email}).json()["leads"] == []
    assert api.post("/api/v1/leads/L-missing/erase", json={}).status_code == 404
    log = api.get("/api/v1/audit").json()
    assert [(r["action"], r["channel"]) for r in log[:3]] == [
        ("export_subject", "api"), ("erase", "api"), ("export_subject", "api"),
    ]  # fmt: skip
    assert log[0]["subject_ref"] == log[2]["subject_ref"] and email not in str(log)
    partner_key = None
    with world.database.transaction() as session:
        partner_key = create_api_key(session, "alpha", world.partner_a)[1]
    api.headers["Authorization"] = f"Bearer {partner_key}"
    assert api.post("/api/v1/subjects/export", json={"email": email}).status_code in (401, 403)


def test_given_a_duplicate_when_the_admin_splits_it_in_the_cockpit_then_it_is_qualified_again(
    world: World,
) -> None:
    from datetime import UTC, datetime

    from leadbridge.core.dedup import Dedup, settle_duplicates
    from leadbridge.core.intake import take_in
    from tests.builders import a_lead

    twin = a_lead(source_connection="list2", email=_email(world, world.lead_a))
    with world.database.transaction() as session:
        take_in(session, twin)
        assert settle_duplicates(session, [twin.id], Dedup(), datetime.now(UTC)) == []
    admin = world.admin_client()
    page = admin.get(f"/cockpit/leads/{twin.id}")
    assert "Same email as" in page.text and world.lead_a in page.text
    token = csrf_from(admin, f"/cockpit/leads/{twin.id}")
    split = admin.post(f"/cockpit/leads/{twin.id}/split", data={"csrf_token": token})
    assert split.status_code == 303
    with world.database.transaction() as session:
        assert LeadService(session).get_row(twin.id).state == "qualified"
        assert settle_duplicates(session, [twin.id], Dedup(), datetime.now(UTC)) == [twin.id]
    assert "Split and route" not in admin.get(f"/cockpit/leads/{twin.id}").text


def _views(world: World, via: str) -> list[tuple[str, str | None, str]]:
    from leadbridge.core.privacy import audit

    with world.database.transaction() as session:
        rows = audit.entries(session, limit=1000)
    return [
        (r.channel, r.lead_id, str(r.detail.get("via", "page")))
        for r in rows
        if r.action == "view_lead" and r.detail.get("via") == via
    ]


def test_given_lists_of_identified_leads_then_each_lead_shown_is_audited_and_consent_still_holds(
    world: World,
) -> None:
    from leadbridge.core.privacy.consent import ConsentScope
    from leadbridge.core.privacy.withdrawal import set_scope

    admin = world.admin_client()
    assert admin.get("/cockpit/leads").status_code == 200
    assert sorted(_views(world, "cockpit:leads")) == sorted([
        ("cockpit", world.lead_a, "cockpit:leads"), ("cockpit", world.lead_b, "cockpit:leads"),
    ])  # fmt: skip
    with world.database.transaction() as session:
        admin_key = create_api_key(session, "crm-tool")[1]
        partner_key = create_api_key(session, "alpha", world.partner_a)[1]
    api = world.client()
    api.headers["Authorization"] = f"Bearer {admin_key}"
    assert {item["id"] for item in api.get("/api/v1/leads").json()["items"]} == {world.lead_a, world.lead_b}
    assert sorted(_views(world, "api:leads")) == sorted([
        ("api", world.lead_a, "api:leads"), ("api", world.lead_b, "api:leads"),
    ])  # fmt: skip

    with world.database.transaction() as session:  # partner A holds lead A
        OfferService(session).accept(world.offer_a, partner_id=world.partner_a, actor="anna")
    inbox = world.partner_client(world.user_a)
    listed = inbox.get("/inbox")
    assert listed.status_code == 200 and _company(world, world.lead_a) in listed.text
    assert ("inbox", world.lead_a, "inbox:leads") in _views(world, "inbox:leads")

    partner_api = world.client()
    partner_api.headers["Authorization"] = f"Bearer {partner_key}"
    email = _email(world, world.lead_a)
    [held] = partner_api.get("/api/v1/partner/leads").json()["items"]
    assert held["lead_id"] == world.lead_a and held["lead"]["email"] == email
    with world.database.transaction() as session:  # the person narrows consent to other partners
        set_scope(session, world.lead_a, ConsentScope(share="partners", partners=["P-other"]),
                  actor="dpo", how="keep", now=utcnow())  # fmt: skip
    [held] = partner_api.get("/api/v1/partner/leads").json()["items"]
    assert held["lead"]["email"] is None and held["lead"]["last_name"] is None  # withheld now
    company = _company(world, world.lead_a)
    page = inbox.get("/inbox").text
    assert company not in page and email not in page and world.lead_a in page  # listed by its id only
    assert _views(world, "inbox:leads") == [("inbox", world.lead_a, "inbox:leads")]  # the blind list: no view
    partner_views = _views(world, "api:partner_leads")
    assert partner_views == [("api", world.lead_a, "api:partner_leads")] * 2


def test_given_the_same_person_twice_when_the_admin_merges_in_the_cockpit_then_it_is_attached_not_routed(
    world: World,
) -> None:
    from datetime import UTC, datetime

    from leadbridge.core.dedup import Dedup, settle_duplicates
    from leadbridge.core.intake import take_in
    from tests.builders import a_lead

    twin = a_lead(source_connection="fair", email="a.muster@other.example")  # the rules see no match
    with world.database.transaction() as session:
        take_in(session, twin)
        assert settle_duplicates(session, [twin.id], Dedup(), datetime.now(UTC)) == [twin.id]
    admin = world.admin_client()
    page = admin.get(f"/cockpit/leads/{twin.id}")
    assert "Merge duplicate" in page.text
    token = csrf_from(admin, f"/cockpit/leads/{twin.id}")
    refused = admin.post(f"/cockpit/leads/{twin.id}/merge", data={"csrf_token": token, "into": twin.id})
    assert refused.status_code == 409 and "itself" in refused.text
    missing = admin.post(f"/cockpit/leads/{twin.id}/merge", data={"csrf_token": token, "into": "L-nope"})
    assert missing.status_code == 404
    merged = admin.post(f"/cockpit/leads/{twin.id}/merge", data={"csrf_token": token, "into": world.lead_a})
    assert merged.status_code == 303 and merged.headers["location"].endswith("done=merged")
    with world.database.transaction() as session:
        service = LeadService(session)
        assert service.get_row(twin.id).state == "rejected"
        reject = [e for e in service.events(twin.id) if e.kind == "reject"][-1]
        assert reject.payload == {"reason_code": "duplicate", "duplicate_of": world.lead_a, "match": "admin"}
        notes = [e.payload for e in service.events(world.lead_a) if e.kind == "note"]
        assert {"duplicate": twin.id, "match": "admin"} in notes
    page = admin.get(f"/cockpit/leads/{twin.id}").text
    assert "Merged by an admin into" in page and "Split and route" in page and "Merge duplicate" not in page

    # an offered lead has partners involved: the API refuses to merge it, with the reason
    with world.database.transaction() as session:
        key = create_api_key(session, "dpo-tool")[1]
    api = world.client()
    api.headers["Authorization"] = f"Bearer {key}"
    answer = api.post(f"/api/v1/leads/{world.lead_a}/merge", json={"into": world.lead_b})
    assert answer.status_code == 409 and "offered" in answer.text
    token = csrf_from(admin, f"/cockpit/leads/{twin.id}")
    assert admin.post(f"/cockpit/leads/{twin.id}/split", data={"csrf_token": token}).status_code == 303
    again = api.post(f"/api/v1/leads/{twin.id}/merge", json={"into": world.lead_b})  # split, then merged
    assert again.status_code == 200 and again.json()["duplicate_of"] == world.lead_b
    with world.database.transaction() as session:
        from leadbridge.core.privacy import audit

        actions = [r.action for r in audit.entries(session, lead_id=twin.id) if r.action != "view_lead"]
    assert actions == ["merge", "split", "merge"]


def test_given_consent_changes_from_the_api_and_the_cockpit_then_offers_are_withdrawn_and_audited(
    world: World,
) -> None:
    from leadbridge.core.privacy import audit

    with world.database.transaction() as session:
        key = create_api_key(session, "dpo-tool")[1]
        assert OfferService(session).get_row(world.offer_b).status == "pending"
    api = world.client()
    api.headers["Authorization"] = f"Bearer {key}"
    wrong = api.post(f"/api/v1/leads/{world.lead_b}/consent", json={"scope": {"share": "some"}})
    assert wrong.status_code == 422  # refused, nothing changed
    narrowed = api.post(
        f"/api/v1/leads/{world.lead_b}/consent", json={"scope": {"share": "partners", "partners": ["PA-x"]}}
    )
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json() == {
        "lead_id": world.lead_b,
        "scope": "1 named partner(s)",
        "withdrawn_from": [world.partner_b],
    }

    admin = world.admin_client()
    token = csrf_from(admin, f"/cockpit/leads/{world.lead_a}")
    withdrawn = admin.post(f"/cockpit/leads/{world.lead_a}/consent/withdraw", data={"csrf_token": token})
    assert withdrawn.status_code == 303
    page = admin.get(f"/cockpit/leads/{world.lead_a}").text
    assert "Consent changed: no partner; withdrawn from 1 partner(s)" in page
    with world.database.transaction() as session:
        offers = OfferService(session)
        for offer_id in (world.offer_a, world.offer_b):
            offer = offers.get_row(offer_id)
            assert (offer.status, offer.comment) == ("withdrawn", "consent_withdrawn")
        logged = [(r.lead_id, r.channel) for r in audit.entries(session) if r.action == "consent"]
    assert logged == [(world.lead_a, "cockpit"), (world.lead_b, "api")]


def test_admin_actions_in_the_cockpit_and_the_api_are_in_the_audit_log(world: World) -> None:
    from leadbridge.core.privacy import audit

    admin = world.admin_client()
    token = csrf_from(admin, f"/cockpit/leads/{world.lead_b}")
    assigned = admin.post(
        f"/cockpit/leads/{world.lead_b}/assign", data={"csrf_token": token, "partner_id": world.partner_a}
    )
    assert assigned.status_code == 303
    assert admin.post(f"/cockpit/leads/{world.lead_a}/reroute", data={"csrf_token": token}).status_code == 303
    exported = admin.get("/cockpit/export/leads.csv")
    assert exported.status_code == 200 and _email(world, world.lead_a) in exported.text
    with world.database.transaction() as session:
        key = create_api_key(session, "crm-tool")[1]
    api = world.client()
    api.headers["Authorization"] = f"Bearer {key}"
    saved = api.put(
        "/api/v1/partners", json={"name": "Delta", "external_id": "PA-D", "connection": "delta_crm"}
    )
    assert saved.status_code == 200, saved.text
    with world.database.transaction() as session:
        facts = [
            (r.channel, r.action, r.lead_id, r.detail)
            for r in audit.entries(session)
            if r.action != "view_lead"
        ]
    assert facts == [
        ("api", "save_partner", None, {"partner_id": saved.json()["id"]}),
        ("cockpit", "export_leads", None, {"format": "csv"}),
        ("cockpit", "reroute", world.lead_a, {}),
        ("cockpit", "assign", world.lead_b, {"partner_id": world.partner_a}),
    ]


def test_the_cockpit_suggests_possible_duplicates_and_merges_into_one_with_a_click(world: World) -> None:
    from leadbridge.core.intake import take_in
    from tests.builders import a_lead

    twin = a_lead(source_connection="fair", email=_email(world, world.lead_b))
    with world.database.transaction() as session:
        take_in(session, twin)
    admin = world.admin_client()
    page = admin.get(f"/cockpit/leads/{twin.id}").text
    assert "Possibly the same person" in page and f"Merge into {world.lead_b}" in page
    assert f"Merge into {world.lead_a}" not in page
    token = csrf_from(admin, f"/cockpit/leads/{twin.id}")
    merged = admin.post(f"/cockpit/leads/{twin.id}/merge", data={"csrf_token": token, "into": world.lead_b})
    assert merged.status_code == 303
    assert "Possibly the same person" not in admin.get(f"/cockpit/leads/{twin.id}").text  # merged now
