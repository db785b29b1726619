"""Consent withdrawal over sandbox orgs: from the manufacturer CRM (intake sees the flag drop) and
through the service with a narrower scope; partners lose the identity, pending offers are withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from leadbridge.connectors.inbox.views import held_lead_detail
from leadbridge.core.errors import ConfigError
from leadbridge.core.leads import LeadService
from leadbridge.core.offers import OfferService
from leadbridge.core.privacy import withdrawal
from leadbridge.core.privacy.consent import ConsentScope
from leadbridge.core.privacy.withdrawal import set_scope
from leadbridge.core.settings import Settings
from leadbridge.core.store.database import Database
from leadbridge.runtime import build_runtime
from leadbridge.sync.projector import SyncTargets
from tests.connectors.sandbox_salesforce import update_lead
from tests.privacy.world import a_privacy_world, add_person


def test_given_a_lead_held_in_salesforce_when_consent_is_withdrawn_at_home_then_the_copy_is_anonymised(
    database: Database,
) -> None:
    with a_privacy_world(database) as world:
        world.plan = {"keep.me@example.com": "psf"}
        home_id = add_person(world.home, "keep.me@example.com", Phone="+49 30 555")
        world.cycle()
        [lead_id] = world.leads()
        [copy] = [r for r in world.sf_partner.records("Lead") if r.get("LeadBridge_Id__c")]
        update_lead(world.sf_partner, copy["Id"], {"Status": "Accepted"})
        world.cycle()
        assert world.sf_partner.store.get(world.sf_partner.store.object("Lead"), copy["Id"])["Email"]

        update_lead(world.home, home_id, {"Consent_Share_With_Partners__c": False})
        world.cycle()  # intake sees the withdrawal; the outbox anonymises the partner's copy
        after = world.sf_partner.store.get(world.sf_partner.store.object("Lead"), copy["Id"])
        assert after["Email"] is None and after["Phone"] is None and not after["IsDeleted"]
        world.cycle()  # and the next push keeps it blind
        after = world.sf_partner.store.get(world.sf_partner.store.object("Lead"), copy["Id"])
        assert after["Email"] is None and after["LeadBridge_Id__c"] == lead_id
        with database.transaction() as session:
            row = LeadService(session).get_row(lead_id)
            assert row.state in ("accepted", "working") and row.partner_id == world.partner_ids["psf"]
            kinds = [(e.kind, e.payload.get("reason_code")) for e in LeadService(session).events(lead_id)]
        assert ("consent", None) in kinds and ("erasure_notice", "consent") in kinds


def test_given_a_scope_naming_others_when_set_then_offers_are_withdrawn_and_the_inbox_holder_sees_it_blind(
    database: Database,
) -> None:
    with a_privacy_world(database) as world:
        world.plan = {"held@example.com": "inbox", "offered@example.com": "phs"}
        add_person(world.home, "held@example.com")
        add_person(world.home, "offered@example.com")
        world.cycle()
        ids = {str(row.email): row.id for row in world.leads().values()}
        inbox = world.partner_ids["inbox"]
        with database.transaction() as session:
            [offer] = OfferService(session).pending_for_lead(ids["held@example.com"])
            OfferService(session).accept(offer.id, partner_id=inbox, actor="inbox-user")
        now = datetime.now(UTC)
        only_sf = ConsentScope(share="partners", partners=["PA-SF"])
        with database.transaction() as session:
            assert set_scope(
                session, ids["offered@example.com"], only_sf, actor="dpo", how="anonymise", now=now
            ) == [world.partner_ids["phs"]]
            assert set_scope(session, ids["held@example.com"], only_sf, actor="dpo", how="keep", now=now) == [
                inbox
            ]
        with database.transaction() as session:
            assert OfferService(session).pending_for_lead(ids["offered@example.com"]) == []
            shown = held_lead_detail(session, ids["held@example.com"], inbox, "inbox-user").lead
            assert shown.email is None and shown.last_name is None and shown.product_interests
        world.cycle()
        hs = {
            r.properties.get("leadbridge_id"): r.properties for r in world.hs_partner.store("contacts").live()
        }
        assert hs[ids["offered@example.com"]]["leadbridge_status"] == "Withdrawn"
        assert not hs[ids["offered@example.com"]].get("email")


def test_given_policy_delete_when_consent_is_withdrawn_at_home_then_the_copy_is_deleted_and_the_lead_returns(
    database: Database,
) -> None:
    """The source's withdrawal follows the policy's ``consent_withdrawal`` (read when it arrives)."""
    with a_privacy_world(database) as world:
        policy = ["delete"]
        withdrawal.attach(database, lambda: policy[0])
        world.plan = {"gone@example.com": "psf"}
        home_id = add_person(world.home, "gone@example.com", Phone="+49 30 556")
        world.cycle()
        [lead_id] = world.leads()
        [copy] = [r for r in world.sf_partner.records("Lead") if r.get("LeadBridge_Id__c")]
        update_lead(world.sf_partner, copy["Id"], {"Status": "Accepted"})
        world.cycle()

        update_lead(world.home, home_id, {"Consent_Share_With_Partners__c": False})
        world.cycle()
        [after] = [r for r in world.sf_partner.records("Lead", include_deleted=True) if r["Id"] == copy["Id"]]
        assert after["IsDeleted"] and after["Email"] is None and after["Phone"] is None
        with database.transaction() as session:
            row = LeadService(session).get_row(lead_id)
            assert row.partner_id is None and row.state not in ("accepted", "working")
            events = LeadService(session).events(lead_id)
        [consent] = [e for e in events if e.kind == "consent"]
        assert consent.payload["how"] == "delete" and consent.payload["scope"] == "no partner"
        assert ("return", "consent_withdrawn") in [(e.kind, e.payload.get("reason_code")) for e in events]
        assert [e.payload["how"] for e in events if e.kind == "erasure_notice"] == ["delete"]


def test_given_an_unreadable_policy_when_consent_is_withdrawn_at_home_then_the_copy_is_anonymised(
    database: Database,
) -> None:
    with a_privacy_world(database) as world:

        def broken() -> str:
            raise ConfigError("policy.yaml: not valid YAML")

        withdrawal.attach(database, broken)
        world.plan = {"safe@example.com": "psf"}
        home_id = add_person(world.home, "safe@example.com")
        world.cycle()
        [copy] = [r for r in world.sf_partner.records("Lead") if r.get("LeadBridge_Id__c")]
        update_lead(world.sf_partner, copy["Id"], {"Status": "Accepted"})
        world.cycle()
        update_lead(world.home, home_id, {"Consent_Share_With_Partners__c": False})
        world.cycle()
        after = world.sf_partner.store.get(world.sf_partner.store.object("Lead"), copy["Id"])
        assert after["Email"] is None and not after["IsDeleted"]  # anonymised, the claim kept


def test_the_runtime_reads_the_source_withdrawal_from_the_policy_file(db_url: str, tmp_path: Path) -> None:
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nprivacy:\n  consent_withdrawal: delete\n")
    rt = build_runtime(Settings(database_url=db_url, policy=str(policy)), targets=SyncTargets())
    with rt.db.transaction() as session:
        assert withdrawal.source_withdrawal(session) == "delete"
    policy.write_text("version: 1\nprivacy:\n  consent_withdrawal: keep\n")
    with rt.db.transaction() as session:
        assert withdrawal.source_withdrawal(session) == "keep"  # read when a withdrawal arrives
    with Database(db_url).transaction() as session:
        assert withdrawal.source_withdrawal(session) == "anonymise"  # nothing attached
