"""Dynamics 365 / Dataverse behaviour beyond the contract, through the real client (MSAL + requests)
against the sandbox: token reuse and refresh, upsert semantics, the PATCH-recreates trap, $batch,
service-protection 429s, same-second changes, the partner loop and opportunity close."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import msal
import pytest
import requests

from leadbridge.connectors.dynamics.client import BatchPart, compose_batch, parse_batch
from leadbridge.connectors.dynamics.fields import LeadFields
from leadbridge.core.errors import QuotaExhausted
from leadbridge.core.lifecycle import LeadState
from leadbridge.core.model import Address, Consent, Lead
from leadbridge.core.writeback import LeadStatusRecord
from leadbridge.mappings.check import check_mapping
from leadbridge.mappings.loader import default_mapping_path, load_mapping, parse_mapping
from leadbridge.ports import Action, WriteItem, WriteOp, advance
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.dynamics.org import DataverseOrg
from tests.connectors.contract import read_all
from tests.connectors.sandbox_dynamics import add_leads, no_wait, sandbox_connector


@pytest.fixture
def box() -> Iterator[Sandbox]:
    with Sandbox.plan(partners=1, leads=0, seed=5, services=["dynamics"]) as running:
        yield running


@pytest.fixture
def org(box: Sandbox) -> DataverseOrg:
    return box.dynamics.org("manufacturer")


def _session(box: Sandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(box.ca_file)
    return session


# -- authentication ------------------------------------------------------------------------------
def test_given_many_calls_then_one_token_serves_them_and_an_expired_one_is_replaced(
    box: Sandbox, org: DataverseOrg
) -> None:
    add_leads(org, 3, same_stamp=False)
    connector = sandbox_connector(org, box.ca_file)
    assert connector.check().ok
    read_all(connector, "lead", None)
    assert org.counters["token"] == 1  # MSAL's cache answered every later call
    org.faults.expire_session_after(0)
    taken, _ = read_all(connector, "lead", None)
    assert len(taken) == 3 and org.counters["token"] == 2


def test_given_a_wrong_tenant_or_secret_then_check_names_what_to_fix(box: Sandbox, org: DataverseOrg) -> None:
    wrong_secret = sandbox_connector(org, box.ca_file, client_secret="nope").check()
    assert not wrong_secret.ok and "AADSTS7000215" in wrong_secret.message
    assert "client_secret" in wrong_secret.message
    wrong_scope = sandbox_connector(org, box.ca_file, org_url="https://contoso.crm4.dynamics.com").check()
    assert not wrong_scope.ok and "invalid_scope" in wrong_scope.message


def test_given_a_sandbox_environment_then_msal_talks_to_it_unchanged(box: Sandbox, org: DataverseOrg) -> None:
    app = msal.ConfidentialClientApplication(
        org.client_id, client_credential=org.client_secret, authority=org.authority,
        http_client=_session(box), instance_discovery=False,
    )  # fmt: skip
    first = app.acquire_token_for_client(scopes=[f"{org.url}/.default"])
    again = app.acquire_token_for_client(scopes=[f"{org.url}/.default"])
    assert first["token_source"] == "identity_provider" and again["token_source"] == "cache"


# -- writes ------------------------------------------------------------------------------------------
def test_given_an_upsert_by_alternate_key_then_201_creates_and_200_updates_without_touching_the_key(
    box: Sandbox, org: DataverseOrg
) -> None:
    connector = sandbox_connector(org, box.ca_file)
    item = WriteItem("k", {"new_leadbridgeid": "L-up", "lastname": "Erst", "companyname": "Up GmbH"})
    [created] = connector.write_batch("lead:upsert", [item])
    [updated] = connector.write_batch("lead:upsert", [WriteItem("k", {**item.fields, "lastname": "Dann"})])
    assert created.ok and created.created and updated.ok and not updated.created
    assert created.remote_id == updated.remote_id
    [row] = org.records("leads")
    assert row["lastname"] == "Dann" and row["new_leadbridgeid"] == "L-up"


def test_given_an_update_of_a_deleted_lead_then_it_fails_instead_of_recreating_it(
    box: Sandbox, org: DataverseOrg
) -> None:
    """A PATCH without If-Match: * is an upsert: it would bring a deleted lead back."""
    [lead_id] = add_leads(org, 1, same_stamp=False)
    org.delete("leads", lead_id)
    connector = sandbox_connector(org, box.ca_file)
    [result] = connector.write_batch("lead", [WriteItem("k", {"new_leadbridgestatus": "Offered"}, lead_id)])
    assert not result.ok and result.action is Action.SKIP and "0x80040217" in (result.error or "")
    assert org.records("leads") == []


def test_given_a_deletion_twice_then_both_settle(box: Sandbox, org: DataverseOrg) -> None:
    [lead_id] = add_leads(org, 1, same_stamp=False)
    connector = sandbox_connector(org, box.ca_file)
    for _ in range(2):
        [result] = connector.write_batch("lead", [WriteItem("k", {}, lead_id, op=WriteOp.DELETE)])
        assert result.ok


def test_given_450_writes_then_they_travel_in_batches_of_the_configured_size(
    box: Sandbox, org: DataverseOrg
) -> None:
    connector = sandbox_connector(org, box.ca_file, batch_size=200)
    items = [WriteItem(f"k{n}", {"new_leadbridgeid": f"L-{n}", "lastname": f"N{n}"}) for n in range(450)]
    results = connector.write_batch("lead:upsert", items)
    assert all(r.ok and r.created for r in results) and len(org.records("leads")) == 450
    assert org.counters["$batch"] == 3


def test_given_a_batch_without_continue_on_error_then_it_stops_at_the_first_failure_with_a_400(
    box: Sandbox, org: DataverseOrg
) -> None:
    connector = sandbox_connector(org, box.ca_file)
    client = connector.client
    parts = [
        BatchPart("POST", "leads", {"lastname": "ok"}),
        BatchPart("POST", "leads", {"lastname": "x" * 60}),
        BatchPart("POST", "leads", {"lastname": "never"}),
    ]
    body = compose_batch(parts, "batch_t", api_path="api/data/v9.2")
    headers = {
        "Authorization": f"Bearer {client.token()}",
        "Content-Type": 'multipart/mixed; boundary="batch_t"',
    }
    response = _session(box).post(f"{client.api}/$batch", data=body, headers=headers)
    answers = parse_batch(response.headers["Content-Type"], response.content)
    assert response.status_code == 400 and [a.status for a in answers] == [204, 400]
    assert answers[1].body["error"]["code"] == "0x80044331"
    assert sorted(r["lastname"] for r in org.records("leads")) == ["ok"]


PART = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"


def test_given_a_change_set_then_it_is_atomic_and_content_ids_bind(box: Sandbox, org: DataverseOrg) -> None:
    connector = sandbox_connector(org, box.ca_file)
    token = connector.client.token()
    body = (
        "--batch_c\r\nContent-Type: multipart/mixed; boundary=changeset_c\r\n\r\n"
        f"--changeset_c\r\n{PART}Content-ID: 1\r\n\r\n"
        'POST /api/data/v9.2/accounts HTTP/1.1\r\nContent-Type: application/json\r\n\r\n{"name":"Acme"}\r\n'
        f"--changeset_c\r\n{PART}Content-ID: 2\r\n\r\n"
        "POST /api/data/v9.2/opportunities HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
        '{"name":"Deal","parentaccountid@odata.bind":"$1"}\r\n'
        "--changeset_c--\r\n--batch_c--\r\n"
    )
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "multipart/mixed; boundary=batch_c"}
    ok = _session(box).post(f"{connector.client.api}/$batch", data=body.encode(), headers=headers)
    assert ok.status_code == 200 and len(org.records("opportunities")) == 1
    [account] = org.records("accounts")
    assert org.records("opportunities")[0]["_parentaccountid_value"] == account["accountid"]
    failing = body.replace('"name":"Deal"', '"name":"' + "x" * 301 + '"')
    refused = _session(box).post(f"{connector.client.api}/$batch", data=failing.encode(), headers=headers)
    assert refused.status_code == 400 and len(org.records("accounts")) == 1  # the account was rolled back


# -- service protection --------------------------------------------------------------------------------
def test_given_a_429_then_the_policy_waits_its_retry_after_and_a_very_long_one_stops_the_run(
    box: Sandbox, org: DataverseOrg
) -> None:
    add_leads(org, 3, same_stamp=False)
    slept: list[float] = []
    connector = sandbox_connector(org, box.ca_file, retry=no_wait(slept=slept), max_throttle_wait=60)
    org.throttle_next(2, retry_after=7, code="0x80072321")
    taken, _ = read_all(connector, "lead", None)
    assert len(taken) == 3 and len(slept) == 2 and all(wait >= 7 for wait in slept)
    org.throttle_next(1, retry_after=3600)
    with pytest.raises(QuotaExhausted, match="3600 s"):
        read_all(connector, "lead", None)


# -- reading --------------------------------------------------------------------------------------------
def test_given_a_lead_changed_again_within_the_same_second_then_the_new_version_is_read(
    box: Sandbox, org: DataverseOrg
) -> None:
    """modifiedon has whole seconds: the second change has the keyset of the first one."""
    org.clock.freeze(datetime(2026, 5, 4, 10, 0, 0, 100_000, tzinfo=UTC))
    [lead_id] = add_leads(org, 1, same_stamp=False)
    connector = sandbox_connector(org, box.ca_file)
    first, checkpoint = read_all(connector, "lead", None)
    org.clock.advance(0.5)  # still 10:00:00 on the wire
    org.update("leads", lead_id, {"jobtitle": "Einkauf"})
    again, _ = read_all(connector, "lead", checkpoint)
    assert first[0].stamp == again[0].stamp and again[0].record["jobtitle"] == "Einkauf"


def test_given_change_tracking_then_filters_are_refused_as_dataverse_does(
    box: Sandbox, org: DataverseOrg
) -> None:
    connector = sandbox_connector(org, box.ca_file)
    client = connector.client
    headers = {"Authorization": f"Bearer {client.token()}", "Prefer": "odata.track-changes"}
    response = _session(box).get(f"{client.api}/leads", params={"$filter": "statecode eq 0"}, headers=headers)
    assert (
        response.status_code == 400
        and "isn't supported when Change Tracking" in response.json()["error"]["message"]
    )


def test_given_a_manufacturer_filter_then_only_qualified_open_leads_are_read(
    box: Sandbox, org: DataverseOrg
) -> None:
    wanted = add_leads(org, 2, same_stamp=False)
    add_leads(org, 1, same_stamp=False, new_lifecyclestage="Lead")
    connector = sandbox_connector(org, box.ca_file)
    taken, checkpoint = read_all(connector, "lead", None)
    assert sorted(c.external_id for c in taken) == sorted(wanted)
    lead = connector.lead_from(taken[0])
    assert lead.last_name and lead.consent.share_with_partners and lead.stage.value == "mql"
    assert checkpoint == advance(None, taken, connector.lookback)


# -- partner side and outcomes ------------------------------------------------------------------------------
def _lead() -> Lead:
    return Lead(
        first_name="Jana", last_name="Huber", company="Huber Haustechnik", email="jana@huber.example",
        industry="construction", address=Address(postal_code="80331", city="München", country="DE"),
        product_interests=["heat_pumps"], consent=Consent(share_with_partners=True),
    )  # fmt: skip


def test_given_an_offer_then_the_partner_sees_a_blind_lead_until_it_accepts(box: Sandbox) -> None:
    partner = box.dynamics.org("partner-01")
    connector = sandbox_connector(partner, box.ca_file, name="p1", role="partner")
    lead, status = _lead(), LeadStatusRecord()
    offer = connector.partner_fields(lead, status, accepted=False, withdrawn=False, first_push=True)
    [written] = connector.write_batch(connector.upsert_stream, [WriteItem("o", offer)])
    row = partner.rows["leads"][str(written.remote_id)]
    assert row["lastname"].startswith("Lead ") and row.get("emailaddress1") is None
    assert row["new_leadbridgestatus"] == "Offered" and row["address1_postalcode"] == "80331"
    partner.update("leads", row["leadid"], {"new_partnerstatus": 100000000})  # the partner accepts
    [change] = read_all(connector, "lead", None)[0]
    answer = connector.partner_status(change)
    assert answer.lead_id == lead.id and answer.meaning == "accepted" and answer.explicit_accept
    assert answer.status == "Accepted"  # the choice's label, as the partner sees it
    revealed = connector.partner_fields(lead, status, accepted=True, withdrawn=False, first_push=False)
    connector.write_batch(connector.upsert_stream, [WriteItem("o", revealed)])
    row = partner.rows["leads"][str(written.remote_id)]
    assert row["lastname"] == "Huber" and row["emailaddress1"] == "jana@huber.example"
    assert row["new_leadbridgestatus"] == "Accepted"


def test_given_a_partner_that_wins_then_amount_and_close_date_come_back(box: Sandbox) -> None:
    partner = box.dynamics.org("partner-01")
    connector = sandbox_connector(partner, box.ca_file, name="p1", role="partner")
    lead = _lead()
    offer = connector.partner_fields(
        lead, LeadStatusRecord(), accepted=False, withdrawn=False, first_push=True
    )
    [written] = connector.write_batch(connector.upsert_stream, [WriteItem("o", offer)])
    partner.update("leads", str(written.remote_id), {
        "new_partnerstatus": 100000003, "new_leadbridgeexpectedrevenue": 18500.0,
        "new_leadbridgeclosedate": "2026-05-04",
    })  # fmt: skip
    answer = connector.partner_status(read_all(connector, "lead", None)[0][0])
    assert answer.meaning == "won" and Decimal(answer.amount or "0") == Decimal("18500")
    assert answer.close_date == "2026-05-04"


def test_given_a_won_outcome_written_back_then_the_leads_open_opportunity_is_won(
    box: Sandbox, org: DataverseOrg
) -> None:
    [lead_id] = add_leads(org, 1, same_stamp=False)
    opportunity = org.create(
        "opportunities", {"name": "Wärmepumpe", "originatingleadid@odata.bind": f"/leads({lead_id})"}
    )
    connector = sandbox_connector(org, box.ca_file)
    lead = Lead(external_id=lead_id, source_connection="home")
    status = LeadStatusRecord(lead_id=lead.id, state=LeadState.WON, outcome="won", partner_name="Huber")
    fields = connector.writeback_fields(lead, status)
    assert fields["new_leadbridgeoutcome"] == "Won"
    [result] = connector.write_batch(connector.update_stream, [WriteItem("w", fields, lead_id)])
    assert result.ok
    closed = org.rows["opportunities"][opportunity["opportunityid"]]
    assert (closed["statecode"], closed["statuscode"]) == (1, 3)
    assert org.counters["WinOpportunity"] == 0 and org.counters["$batch"] == 3  # actions ride in $batch


# -- mappings --------------------------------------------------------------------------------------------
def test_given_the_shipped_mappings_then_mappings_check_finds_nothing_against_the_environment(
    box: Sandbox, org: DataverseOrg
) -> None:
    """Choices are checked as their option values, date-only columns as dates."""
    for role, environment in (("manufacturer", org), ("partner", box.dynamics.org("partner-01"))):
        connector = sandbox_connector(environment, box.ca_file, role=role)
        mapping = load_mapping(default_mapping_path("dynamics", "lead", role))
        assert check_mapping(mapping, connector.describe("lead")) == [], role
    remote = sandbox_connector(org, box.ca_file).describe("lead")
    assert remote.fields["new_leadbridgeclosedate"].family == "date"
    assert "100000000" in remote.fields["new_partnerstatus"].picklist


def test_given_a_value_map_into_a_choice_column_then_the_value_is_written_as_an_integer(
    box: Sandbox, org: DataverseOrg
) -> None:
    text = (Path(default_mapping_path("dynamics", "lead", "manufacturer"))).read_text(encoding="utf-8")
    text += (
        "  - canonical: status.partner_status\n    out: new_partnerstatus\n"
        "    transform:\n      value_map:\n        values: {'100000002': working}\n        unknown: empty\n"
    )
    fields = LeadFields(parse_mapping(text, "test.yaml"), key_column="new_leadbridgeid")
    [lead_id] = add_leads(org, 1, same_stamp=False)
    status = LeadStatusRecord(lead_id="L-x", state=LeadState.WORKING, partner_status="working")
    values = fields.writeback_fields(Lead(external_id=lead_id), status)
    assert values["new_partnerstatus"] == 100000002
    connector = sandbox_connector(org, box.ca_file)
    [result] = connector.write_batch("lead", [WriteItem("w", values, lead_id)])
    assert result.ok and org.rows["leads"][lead_id]["new_partnerstatus"] == 100000002


# -- change tracking --------------------------------------------------------------------------------------
def test_given_a_table_without_change_tracking_then_check_says_so_and_reads_skip_the_deletion_pass(
    box: Sandbox, org: DataverseOrg
) -> None:
    org.tables["leads"].change_tracking = False
    add_leads(org, 2, same_stamp=False)
    connector = sandbox_connector(org, box.ca_file)
    checked = connector.check()
    assert checked.ok and "no change tracking" in checked.message
    read_all(connector, "lead", None)
    read_all(connector, "lead", None)
    assert org.counters["leads.query"] == 3  # two reads, one baseline attempt: no full scan per poll


def test_given_a_refused_delta_link_then_a_new_baseline_is_taken_and_later_deletions_come_in(
    box: Sandbox, org: DataverseOrg
) -> None:
    ids = add_leads(org, 3, same_stamp=False)
    connector = sandbox_connector(org, box.ca_file)
    _, checkpoint = read_all(connector, "lead", None)
    connector._delta_link = f"{org.url}/api/data/v9.2/leads?$select=leadid&$deltatoken=expired"
    assert read_all(connector, "lead", checkpoint)[0] == []  # refused: no failure, a new baseline
    org.delete("leads", ids[0])
    gone = read_all(connector, "lead", checkpoint)[0]
    assert [(c.external_id, c.deleted) for c in gone] == [(ids[0], True)]
