"""A partner's contact e-mails become inbox users when the partner is on the inbox, invited by mail."""

from __future__ import annotations

from pathlib import Path

from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.notify.mailer import SmtpMailer
from leadbridge.sync.importing import import_partners
from leadbridge.web.accounts import partner_user_by_email
from leadbridge.web.invites import invite_contacts
from tests.web.conftest import SmtpServer, body_of

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
