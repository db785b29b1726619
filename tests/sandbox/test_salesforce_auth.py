"""Salesforce stand-in: every login flow simple-salesforce drives, failures, and session expiry."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from leadbridge.sandbox.clients import salesforce_client, sandbox_session


@pytest.mark.parametrize("flow", ["session", "soap", "password", "jwt", "client_credentials"])
def test_given_each_login_flow_when_querying_then_the_org_answers(sf_org, sf_sandbox, flow):
    client = salesforce_client(sf_org, sf_sandbox.ca_file, flow=flow)
    assert client.sf_instance == sf_org.instance_url.removeprefix("https://")
    assert client.query("SELECT COUNT() FROM Lead")["totalSize"] == 40
    endpoint = {"soap": "login.soap", "session": None}.get(flow, "oauth.token")
    if endpoint:
        assert sf_org.counters[endpoint] == 1


def _session(org, box):
    return sandbox_session(org.instance_url, box.ca_file)


def test_given_password_without_security_token_when_soap_login_then_invalid_login(sf_org, sf_sandbox):
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            username=sf_org.username,
            password=sf_org.password,
            security_token="wrong",
            session=_session(sf_org, sf_sandbox),
        )
    assert failure.value.code == "INVALID_LOGIN"


def test_given_wrong_consumer_secret_when_oauth_password_then_invalid_client(sf_org, sf_sandbox):
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            username=sf_org.username,
            password=sf_org.password,
            consumer_key=sf_org.consumer_key,
            consumer_secret="nope",
            session=_session(sf_org, sf_sandbox),
        )
    assert failure.value.code == "invalid_client"


def test_given_wrong_password_when_oauth_password_then_invalid_grant(sf_org, sf_sandbox):
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            username=sf_org.username,
            password="bad",
            consumer_key=sf_org.consumer_key,
            consumer_secret=sf_org.consumer_secret,
            session=_session(sf_org, sf_sandbox),
        )
    assert (failure.value.code, failure.value.auth_message) == ("invalid_grant", "authentication failure")


def test_given_jwt_signed_by_an_unknown_key_when_logging_in_then_invalid_assertion(sf_org, sf_sandbox):
    _ = sf_org.jwt_private_key_pem  # the org trusts its own key only
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            username=sf_org.username,
            consumer_key=sf_org.consumer_key,
            privatekey=foreign.decode(),
            session=_session(sf_org, sf_sandbox),
        )
    assert (failure.value.code, failure.value.auth_message) == ("invalid_grant", "invalid assertion")


def test_given_jwt_for_another_user_when_logging_in_then_refused(sf_org, sf_sandbox):
    # The real answer, and simple-salesforce warns with an authorize URL for it.
    with (
        pytest.raises(SalesforceAuthenticationFailed) as failure,
        pytest.warns(UserWarning, match="authorize"),
    ):
        Salesforce(
            username="someone@else.example",
            consumer_key=sf_org.consumer_key,
            privatekey=sf_org.jwt_private_key_pem,
            session=_session(sf_org, sf_sandbox),
        )
    assert failure.value.code == "invalid_grant"


def test_given_bad_client_secret_when_client_credentials_then_invalid_client(sf_org, sf_sandbox):
    with pytest.raises(SalesforceAuthenticationFailed) as failure:
        Salesforce(
            consumer_key=sf_org.consumer_key,
            consumer_secret="bad",
            domain="acme.my",
            session=_session(sf_org, sf_sandbox),
        )
    assert failure.value.code == "invalid_client"


def test_given_password_client_when_session_expires_then_it_logs_in_again_once(sf_org, sf_sandbox):
    client = salesforce_client(sf_org, sf_sandbox.ca_file, flow="password")
    first_session = client.session_id
    sf_org.faults.expire_session_after(2)
    for _ in range(5):
        assert client.query("SELECT COUNT() FROM Lead")["totalSize"] == 40
    assert client.session_id != first_session
    assert sf_org.counters["oauth.token"] == 2  # the initial login and exactly one re-login
    assert sf_org.user_for(first_session) is None  # the old session stays dead


def test_given_sftype_call_when_session_expires_then_one_relogin_not_a_loop(sf_org, sf_sandbox):
    client = salesforce_client(sf_org, sf_sandbox.ca_file, flow="soap")
    lead_id = sf_org.records("Lead")[0]["Id"]
    sf_org.faults.expire_session_after(0)
    assert client.Lead.get(lead_id)["Id"] == lead_id
    assert sf_org.counters["login.soap"] == 2


def test_given_session_id_client_when_session_expires_then_expired_session_error(fresh_sf_org):
    box, org = fresh_sf_org
    client = salesforce_client(org, box.ca_file)
    org.faults.expire_session_after(1)
    client.query("SELECT Id FROM Lead")
    with pytest.raises(SalesforceExpiredSession) as failure:
        client.query("SELECT Id FROM Lead")
    assert failure.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_given_no_token_when_calling_the_api_then_401_list_body(sf_org, sf_sandbox):
    response = _session(sf_org, sf_sandbox).get(f"{sf_org.instance_url}/services/data/v59.0/limits/")
    assert response.status_code == 401
    assert response.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")
