"""The Pipedrive stand-in on the wire, with plain requests: envelopes, auth, v2 validation, cursor
paging with ``updated_since`` (≥), rate-limit headers and 429s, OAuth refresh, and the listing by
``leadbridge sandbox serve``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.pipedrive.company import Company


class Wire:
    def __init__(self, company: Company, url: str, ca_file: str) -> None:
        self.company, self.url = company, url
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = ca_file

    def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"x-api-token": token or self.company.api_token, **kwargs.pop("headers", {})}
        return self.session.request(method, f"{self.url}{path}", headers=headers, timeout=10, **kwargs)


@pytest.fixture
def wire() -> Iterator[Wire]:
    with Sandbox.plan(partners=1, leads=0, seed=31, services=["pipedrive"]) as box:
        info = box.describe()["pipedrive"]
        entry = next(e for e in info if e["name"] == "partner-01")
        assert {
            "base_url",
            "api_token",
            "client_id",
            "client_secret",
            "refresh_token",
            "oauth_token_url",
        } <= set(entry)
        yield Wire(box.pipedrive.company("partner-01"), entry["base_url"], str(box.ca_file))


def test_given_tokens_then_the_envelope_says_success_or_the_error(wire: Wire) -> None:
    me = wire.call("GET", "/api/v1/users/me")
    assert me.status_code == 200 and me.json()["success"] is True and me.json()["data"]["id"]
    assert wire.call("GET", "/v1/users/me").status_code == 200  # /v1 works too
    by_query = wire.session.get(f"{wire.url}/api/v1/users/me", params={"api_token": wire.company.api_token})
    assert by_query.status_code == 200
    bad = wire.call("GET", "/api/v2/deals", token="0" * 40)
    assert bad.status_code == 401 and bad.json() == {
        "success": False, "error": "unauthorized access", "error_info": bad.json()["error_info"],
        "data": None, "additional_data": None, "errorCode": 401,
    }  # fmt: skip
    assert wire.call("GET", "/api/v2/nothing").json()["success"] is False


def test_given_v2_writes_then_bodies_and_values_are_checked_like_pipedrive(wire: Wire) -> None:
    form = wire.call("POST", "/api/v2/deals", data={"title": "x"})
    assert form.status_code == 415
    assert wire.call("POST", "/api/v2/deals", json={"title": "x", "value": "100"}).status_code == 400
    assert wire.call("POST", "/api/v2/deals", json={"title": ""}).status_code == 400
    assert wire.call("POST", "/api/v2/deals", json={"title": "x", "label_ids": [999]}).status_code == 400
    created = wire.call("POST", "/api/v2/deals", json={"title": "Heat pump", "value": 100})
    assert created.status_code == 201
    deal = created.json()["data"]
    assert deal["status"] == "open" and deal["custom_fields"] == {} and deal["update_time"].endswith("Z")
    won = wire.call("PATCH", f"/api/v2/deals/{deal['id']}", json={"status": "won"}).json()["data"]
    assert won["won_time"] and won["close_time"]
    assert wire.call("GET", "/api/v2/deals/999").status_code == 404


def test_given_many_deals_then_cursors_page_them_and_updated_since_is_inclusive(wire: Wire) -> None:
    clock = wire.company.clock
    moment = clock.freeze()
    for n in range(7):
        wire.company.create("deal", {"title": f"D{n}"})
    clock.unfreeze()
    assert wire.call("GET", "/api/v2/deals", params={"limit": 501}).status_code == 400
    seen, cursor, pages = [], None, 0
    since = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    while True:
        params = {
            "limit": 3,
            "sort_by": "update_time",
            "updated_since": since,
            **({"cursor": cursor} if cursor else {}),
        }
        body = wire.call("GET", "/api/v2/deals", params=params).json()
        seen += [d["id"] for d in body["data"]]
        pages += 1
        cursor = body["additional_data"]["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 7


def test_given_the_burst_window_fills_then_headers_count_down_and_a_429_says_when(wire: Wire) -> None:
    wire.company.limits.burst = 2
    first = wire.call("GET", "/api/v1/users/me")
    assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
    assert wire.call("GET", "/api/v1/users/me").headers["x-ratelimit-remaining"] == "0"
    limited = wire.call("GET", "/api/v1/users/me")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert int(limited.headers["x-ratelimit-reset"]) >= 1 and limited.json()["success"] is False
    wire.company.limits.burst = 80
    wire.company.faults.quota.set(wire.company.faults.quota.used)
    daily = wire.call("GET", "/api/v1/users/me")
    assert daily.status_code == 429 and "Daily" in daily.json()["error"]
    assert daily.headers["x-daily-requests-left"] == "0" and int(daily.headers["Retry-After"]) > 0


def test_given_the_refresh_grant_then_an_access_token_and_the_api_domain_come_back(wire: Wire) -> None:
    c = wire.company
    form = {"grant_type": "refresh_token", "refresh_token": c.refresh_token}
    token = wire.session.post(f"{wire.url}/oauth/token", data=form, auth=(c.client_id, c.client_secret))
    assert token.status_code == 200 and token.json()["api_domain"] == wire.url
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    assert wire.session.get(f"{wire.url}/api/v1/users/me", headers=bearer).status_code == 200
    as_json = wire.session.post(
        f"{wire.url}/oauth/token", data=json.dumps(form), auth=(c.client_id, c.client_secret),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert as_json.status_code == 400 and "x-www-form-urlencoded" in as_json.text
    c.expire_tokens()
    assert wire.session.get(f"{wire.url}/api/v1/users/me", headers=bearer).status_code == 401


def test_given_sandbox_serve_then_pipedrive_companies_are_listed_with_urls_and_credentials(
    tmp_path: Any,
) -> None:
    import io
    import signal
    import subprocess
    import sys

    from rich.console import Console

    from leadbridge.cli.sandbox import _table

    command = [sys.executable, "-m", "leadbridge.cli.main", "sandbox", "serve", "--json", "--partners", "1",
               "--services", "pipedrive", "--ca-dir", str(tmp_path)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        assert [c["name"] for c in info["pipedrive"]] == ["manufacturer", "partner-01"]
        partner = info["pipedrive"][1]
        assert (
            partner["role"] == "partner"
            and partner["oauth_token_url"] == f"{partner['base_url']}/oauth/token"
        )
        session = requests.Session()
        session.trust_env = False
        me = session.get(
            f"{partner['base_url']}/api/v1/users/me", headers={"x-api-token": partner["api_token"]},
            verify=info["ca_file"], timeout=10,
        )  # fmt: skip
        assert me.status_code == 200 and me.json()["success"] is True
        screen = Console(file=io.StringIO(), width=250)
        screen.print(_table(info))
        text = screen.file.getvalue()  # type: ignore[attr-defined]
        assert text.count("pipedrive") == 2 and partner["api_token"] in text and partner["base_url"] in text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
