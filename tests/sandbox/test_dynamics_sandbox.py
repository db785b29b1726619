"""The Dataverse stand-in on the wire: `sandbox serve` lists it with what MSAL needs, and the Web API
answers with Dataverse's shapes and quirks (upsert, create-only, conditional GET, annotations,
state/status pairs, error codes, paging, service protection)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msal
import pytest
import requests

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.dynamics.org import DataverseOrg


def _session(ca_file: Any) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_file)
    return session


def _token(info: dict[str, Any], session: requests.Session) -> str:
    app = msal.ConfidentialClientApplication(
        info["client_id"], client_credential=info["client_secret"], authority=info["authority"],
        http_client=session, instance_discovery=False,
    )  # fmt: skip
    result = app.acquire_token_for_client(scopes=[info["scope"]])
    return str(result["access_token"])


def test_given_serve_json_with_dynamics_then_each_environment_is_listed_and_msal_connects(
    tmp_path: Path,
) -> None:
    command = [
        sys.executable, "-m", "leadbridge.cli.main", "sandbox", "serve", "--json", "--partners", "1",
        "--leads", "7", "--seed", "3", "--services", "dynamics", "--ca-dir", str(tmp_path),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert [env["name"] for env in info["dynamics"]] == ["manufacturer", "partner-01"]
        manufacturer = info["dynamics"][0]
        assert set(manufacturer) >= {
            "org_url",
            "authority",
            "tenant_id",
            "client_id",
            "client_secret",
            "scope",
        }
        session = _session(info["ca_file"])
        headers = {"Authorization": f"Bearer {_token(manufacturer, session)}", "Accept": "application/json"}
        answer = session.get(
            f"{manufacturer['web_api']}/leads", params={"$select": "leadid"}, headers=headers
        )
        assert answer.status_code == 200 and len(answer.json()["value"]) == 7
        assert answer.headers["OData-Version"] == "4.0"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.fixture
def env() -> Iterator[tuple[DataverseOrg, requests.Session, dict[str, str]]]:
    with Sandbox.plan(partners=0, leads=12, seed=4, services=["dynamics"]) as box:
        org = box.dynamics.org("manufacturer")
        session = _session(box.ca_file)
        headers = {"Authorization": f"Bearer {_token(org.describe(), session)}", "Accept": "application/json"}
        yield org, session, headers


def test_given_writes_then_they_follow_dataverses_upsert_rules(
    env: tuple[DataverseOrg, requests.Session, dict[str, str]],
) -> None:
    org, session, headers = env
    api = f"{org.url}/api/data/v9.2"
    missing = "00000000-0000-0000-0000-0000000000aa"
    recreated = session.patch(f"{api}/leads({missing})", json={"lastname": "Neu"}, headers=headers)
    assert recreated.status_code == 204 and missing in org.rows["leads"]  # PATCH without If-Match creates
    gone = "00000000-0000-0000-0000-0000000000bb"
    refused = session.patch(
        f"{api}/leads({gone})", json={"lastname": "X"}, headers={**headers, "If-Match": "*"}
    )
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "0x80040217"
    create_only = {**headers, "If-None-Match": "*"}
    key_url = f"{api}/leads(new_leadbridgeid='L-O''Brien')"
    assert session.patch(key_url, json={"lastname": "A"}, headers=create_only).status_code == 204
    again = session.patch(key_url, json={"lastname": "B"}, headers=create_only)
    assert again.status_code == 412 and "matching key values" in again.json()["error"]["message"]
    row = next(r for r in org.records("leads") if r.get("new_leadbridgeid") == "L-O'Brien")
    read = session.get(f"{api}/leads({row['leadid']})", params={"$select": "lastname"}, headers=headers)
    etag = read.json()["@odata.etag"]
    assert session.get(read.url, headers={**headers, "If-None-Match": etag}).status_code == 304
    stale = session.patch(
        f"{api}/leads({row['leadid']})", json={"lastname": "C"}, headers={**headers, "If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412
    invalid = session.patch(
        f"{api}/leads({row['leadid']})", json={"statecode": 0, "statuscode": 4}, headers=headers
    )
    assert invalid.status_code == 400 and invalid.json()["error"]["code"] == "0x80048408"
    unknown = session.patch(f"{api}/leads({row['leadid']})", json={"nosuchcolumn": 1}, headers=headers)
    assert unknown.status_code == 400 and "nosuchcolumn" in unknown.json()["error"]["message"]


def test_given_queries_then_pages_filters_and_annotations_are_dataverses(
    env: tuple[DataverseOrg, requests.Session, dict[str, str]],
) -> None:
    org, session, headers = env
    api = f"{org.url}/api/data/v9.2"
    prefer = {**headers, "Prefer": 'odata.maxpagesize=5,odata.include-annotations="*"'}
    first = session.get(
        f"{api}/leads", params={"$select": "lastname,statecode", "$orderby": "lastname asc"}, headers=prefer
    )
    body = first.json()
    assert len(body["value"]) == 5 and body["@odata.nextLink"].startswith(f"{org.url}/api/data/v9.2/leads?")
    assert body["value"][0]["statecode@OData.Community.Display.V1.FormattedValue"] == "Open"
    plain = session.get(f"{api}/leads", params={"$select": "statecode"}, headers=headers).json()["value"][0]
    assert "statecode@OData.Community.Display.V1.FormattedValue" not in plain  # only when asked for
    seen = [row["leadid"] for row in body["value"]]
    while "@odata.nextLink" in body:
        body = session.get(body["@odata.nextLink"], headers=prefer).json()
        seen += [row["leadid"] for row in body["value"]]
    assert len(seen) == len(set(seen)) == 12
    bad = session.get(f"{api}/leads", params={"$filter": "lastname eq"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "0x80060888"
    text_date = session.get(f"{api}/leads", params={"$filter": "modifiedon ge '2024-01-01'"}, headers=headers)
    assert text_date.status_code == 400  # date-times are unquoted literals


def test_given_an_expired_token_or_a_throttle_then_dataverse_answers_401_and_429(
    env: tuple[DataverseOrg, requests.Session, dict[str, str]],
) -> None:
    org, session, headers = env
    api = f"{org.url}/api/data/v9.2"
    org.throttle_next(1, retry_after=9)
    throttled = session.get(f"{api}/WhoAmI", headers=headers)
    assert throttled.status_code == 429 and throttled.headers["Retry-After"] == "9"
    assert throttled.json()["error"]["code"] == "0x80072322"
    org.faults.expire_session_after(0)
    expired = session.get(f"{api}/WhoAmI", headers=headers)
    assert (
        expired.status_code == 401
        and expired.content == b""
        and "Bearer" in expired.headers["WWW-Authenticate"]
    )


def test_given_orderby_then_mixed_directions_sort_with_nulls_first_and_guids_as_sql_server_does(
    env: tuple[DataverseOrg, requests.Session, dict[str, str]],
) -> None:
    org, session, headers = env
    api = f"{org.url}/api/data/v9.2"
    params = {
        "$select": "new_lifecyclestage,numberofemployees",
        "$orderby": "new_lifecyclestage asc,numberofemployees desc",
    }
    rows = session.get(f"{api}/leads", params=params, headers=headers).json()["value"]
    pairs = [(r["new_lifecyclestage"].casefold(), -r["numberofemployees"]) for r in rows]
    assert pairs == sorted(pairs)
    ids = [
        r["leadid"]
        for r in session.get(
            f"{api}/leads", params={"$select": "leadid", "$orderby": "leadid asc"}, headers=headers
        ).json()["value"]
    ]
    assert ids == sorted(ids, key=lambda text: (text[24:], text[19:23], text[14:18], text[9:13], text[:8]))
