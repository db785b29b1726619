"""A partner's contact e-mails become inbox users when the partner is on the inbox, invited by mail."""

from __future__ import annotations

from pathlib import Path

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.sync.importing import import_partners
from leadbridge.web.accounts import partner_user_by_email
from leadbridge.web.invites import invite_contacts
from tests.web.conftest import SmtpServer, World, body_of, world

__all__ = ["world"]  # a fixture the API test uses

CSV = """external_id,name,connection,contact_email,contact_name,languages,countries
PA-1,Alpha,inbox,Anna@Alpha.example,Anna,de,DE
PA-2,Beta,beta_crm,bert@beta.example,Bert,en,DE
PA-3,Gamma,inbox,anna@alpha.example,Anna again,en,DE
"""


def test_given_inbox_partners_with_contacts_when_imported_then_each_new_contact_is_invited_once(
    database: Database, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    (tmp_path / "p.csv").write_text(CSV, encoding="utf-8")
    import_partners(database, tmp_path / "p.csv")
    settings = Settings(database_url=database.url, public_url="https://lb.example")
    mailer = SmtpMailer(smtp_server.host, smtp_server.port, "leadbridge@example.com")
    first = invite_contacts(database, settings, mailer)
    assert first.invited == ["anna@alpha.example"]  # Beta has its own CRM
    assert first.skipped == ["anna@alpha.example: already a user of another partner"]
    with database.transaction() as session:
        user = partner_user_by_email(session, "anna@alpha.example")
        assert user is not None and user.language == "de" and user.name == "Anna"
        assert partner_user_by_email(session, "bert@beta.example") is None
    [mail] = smtp_server.messages
    assert mail["To"] == "anna@alpha.example" and "https://lb.example/inbox/signin/" in body_of(mail)
    again = invite_contacts(database, settings, mailer)
    assert again.invited == [] and len(smtp_server.messages) == 1


def test_given_an_inbox_partner_saved_through_the_api_then_its_new_contact_is_invited_once(
    world: World, smtp_server: SmtpServer
) -> None:
    from leadbridge.web.accounts import create_api_key

    with world.database.transaction() as session:
        key = create_api_key(session, "crm-tool")[1]
    api = world.client()
    api.headers["Authorization"] = f"Bearer {key}"
    partner = {
        "name": "Gamma Wärme",
        "external_id": "PA-G",
        "connection": "inbox",
        "contacts": [{"name": "Gina", "email": "Gina@Gamma.example", "language": "de"}],
        "territory": {"countries": ["DE"]},
    }
    before = len(smtp_server.messages)
    saved = api.put("/api/v1/partners", json=partner)
    assert saved.status_code == 200, saved.text
    with world.database.transaction() as session:
        user = partner_user_by_email(session, "gina@gamma.example")
        assert user is not None and user.partner_id == saved.json()["id"] and user.language == "de"
        assert partner_user_by_email(session, "anna@alpha.example").partner_id == world.partner_a  # untouched
    [mail] = smtp_server.messages[before:]
    assert mail["To"] == "gina@gamma.example" and "/inbox/signin/" in body_of(mail)
    assert api.put("/api/v1/partners", json={**partner, "name": "Gamma Wärme GmbH"}).status_code == 200
    crm = {**partner, "external_id": "PA-H", "connection": "acme_crm", "contacts": [{"email": "h@h.example"}]}
    assert api.put("/api/v1/partners", json=crm).status_code == 200
    assert len(smtp_server.messages) == before + 1  # saved again: no second invitation; a CRM partner: none
