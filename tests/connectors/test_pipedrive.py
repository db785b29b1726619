"""The Pipedrive connector against the sandbox company: limits, failures, OAuth, webhooks, erasure.

The shared contract (``test_contract.py``) covers reads, writes, 429 + Retry-After, expiry and
quota; these are the Pipedrive-specific rules (``connectors/pipedrive/BEHAVIOR.md``).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from leadbridge.connectors.pipedrive import PipedriveConnector, connect
from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import QuotaExhausted
from leadbridge.ports import WebhookMalformed, WebhookRejected, WriteItem, WriteOp
from leadbridge.sandbox import Sandbox
from leadbridge.sandbox.pipedrive.company import Company
from tests.connectors.contract import Recorder


class Box:
    def __init__(self, company: Company, url: str, ca_file: str) -> None:
        self.company, self.url, self.ca_file = company, url, ca_file
        self.slept: list[float] = []

    def connector(self, **extra: Any) -> PipedriveConnector:
        values = {
            "name": "pd", "kind": "pipedrive", "base_url": self.url, "api_token": self.company.api_token,
            "ca_file": self.ca_file, "webhook_user": "lb", "webhook_password": "pw-123", **extra,
        }  # fmt: skip
        config = default_registry().connection({k: v for k, v in values.items() if v is not None})
        return connect(config, retry=Recorder(self.slept, real=True).policy())  # type: ignore[arg-type]


@pytest.fixture
def box() -> Iterator[Box]:
    with Sandbox.plan(partners=1, leads=0, seed=23, services=["pipedrive"]) as sandbox:
        service = sandbox.pipedrive
        yield Box(service.company("partner-01"), service.base_url("partner-01"), str(sandbox.ca_file))


def _offer(n: int) -> WriteItem:
    return WriteItem(f"k{n}", {"leadbridge_id": f"L-{n:04d}", "title": f"Offer {n}", "label": "offered",
                               "status": "open"})  # fmt: skip


def test_given_the_burst_window_is_full_then_the_next_call_waits_for_its_reset_instead_of_a_429(
    box: Box,
) -> None:
    box.company.limits.burst = 3
    connector = box.connector()
    results = connector.write_batch("deals:upsert", [_offer(n) for n in range(1, 3)])
    assert all(r.ok for r in results)
    assert box.company.counters["429.burst"] == 0, "the x-ratelimit-remaining: 0 answer was honoured"
    assert box.slept and max(box.slept) >= 1  # waited the window's x-ratelimit-reset, through the policy


def test_given_a_burst_429_then_it_is_retried_after_retry_after(box: Box) -> None:
    connector = box.connector()
    connector.install()
    box.company.limits.fail_next(1, retry_after=2)
    [result] = connector.write_batch("deals:upsert", [_offer(1)])
    assert result.ok and box.slept[-1] >= 2 and box.company.counters["429.burst"] == 1


def test_given_the_daily_budget_is_used_up_then_writes_stop_for_quota(box: Box) -> None:
    connector = box.connector()
    connector.install()
    box.company.faults.quota.set(box.company.faults.quota.used)
    before = len(box.slept)
    with pytest.raises(QuotaExhausted, match="daily"):
        connector.write_batch("deals:upsert", [_offer(1)])
    assert len(box.slept) == before  # no waiting until midnight


def test_given_a_gateway_html_page_then_it_is_a_transient_failure_never_data(box: Box) -> None:
    connector = box.connector()
    connector.install()
    box.company.faults.set("deals.search", error_rate=1.0, error="bad_gateway")
    threading.Timer(1.0, box.company.faults.clear).start()  # the gateway recovers
    [result] = connector.write_batch("deals:upsert", [_offer(1)])
    assert result.ok and box.slept, "the 502 page was retried"
    assert len(box.company.deals_with("leadbridge_id")) == 1


def test_given_an_oauth_grant_then_tokens_are_refreshed_and_a_bad_grant_fails_check_with_the_reason(
    box: Box,
) -> None:
    c = box.company
    oauth = {"api_token": None, "base_url": None, "client_id": c.client_id, "client_secret": c.client_secret,
             "refresh_token": c.refresh_token, "oauth_token_url": f"{box.url}/oauth/token"}  # fmt: skip
    connector = box.connector(**oauth)
    assert connector.check().ok and connector.client.base_url == box.url  # the token's api_domain
    c.expire_tokens()
    assert connector.check().ok and c.counters["oauth.token"] == 2
    bad = box.connector(**{**oauth, "refresh_token": "1:1:wrong"}).check()
    assert not bad.ok and "refresh_token" in bad.message


def test_given_erasure_then_the_deal_is_unlinked_and_renamed_and_a_gone_deal_deletes_fine(box: Box) -> None:
    connector = box.connector()
    revealed = {
        **_offer(1).fields,
        "person": {"name": "Jana Test", "email": "jana@example.com", "phone": None},
        "organization": {"name": "Testbau GmbH", "address": "Hauptstr. 1, 80331 München"},
    }
    [written] = connector.write_batch("deals:upsert", [WriteItem("k1", revealed)])
    deal = box.company.deals[int(str(written.remote_id))]
    assert deal["person_id"] and deal["org_id"]
    fields = connector.erasure_fields("L-0001", "erased")
    [erased] = connector.write_batch("deals", [WriteItem("e1", fields, written.remote_id)])
    assert erased.ok and (deal["title"], deal["person_id"], deal["org_id"]) == ("erased", None, None)
    gone = WriteItem("d1", {}, written.remote_id, WriteOp.DELETE)
    assert [r.ok for r in connector.write_batch("deals", [gone, gone])] == [True, True]


class _Receiver(BaseHTTPRequestHandler):
    got: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append(({k: v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_given_a_webhook_subscription_then_pipedrive_s_deliveries_verify_and_forgeries_do_not(
    box: Box,
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connector = box.connector()
        url = f"http://127.0.0.1:{server.server_port}/webhooks/pd"
        hook = connector.subscribe_webhooks(url)
        assert connector.subscribe_webhooks(url)["id"] == hook["id"]  # subscribed once
        [written] = connector.write_batch("deals:upsert", [_offer(1)])
        box.company.edit_as_user("deal", int(str(written.remote_id)), {"labels": ["Accepted"]})
        box.company.delete("deal", int(str(written.remote_id)), source="app")
        for _ in range(100):
            if len(_Receiver.got) >= 3:
                break
            threading.Event().wait(0.05)
        changes = [c for headers, body in _Receiver.got for c in connector.parse_webhook(headers, body)]
        assert [(c.external_id, c.deleted) for c in changes] == [(written.remote_id, False)] * 2 + [
            (written.remote_id, True)
        ]
        headers, body = _Receiver.got[1]
        assert connector.parse_webhook(headers, body) == []  # at least once: a redelivery is dropped
        retry = json.loads(body)
        retry["meta"]["attempt"] = 2
        assert connector.parse_webhook(headers, json.dumps(retry).encode()) == []
        retry["data"]["status"] = "won"  # the same event id with other content: forged
        with pytest.raises(WebhookRejected, match="different content"):
            connector.parse_webhook(headers, json.dumps(retry).encode())
        wrong = {**headers, "Authorization": "Basic " + base64.b64encode(b"lb:guess").decode()}
        with pytest.raises(WebhookRejected, match="Basic credentials"):
            connector.parse_webhook(wrong, body)
        v1 = json.dumps({"v": 1, "meta": {"action": "updated", "object": "deal", "id": 1}, "current": {}})
        with pytest.raises(WebhookMalformed, match=r"version 2\.0"):
            connector.parse_webhook(headers, v1.encode())
    finally:
        server.shutdown()


def test_given_a_batch_of_new_offers_then_one_listing_replaces_a_search_per_offer(box: Box) -> None:
    connector = box.connector()
    connector.install()
    box.company.counters.reset()
    items = [_offer(n) for n in range(1, 6)]
    assert all(r.created for r in connector.write_batch("deals:upsert", items))
    counts = box.company.counters.snapshot()
    assert counts.get("deals.search", 0) == 0 and counts["deals.list"] == 1 and counts["deals.create"] == 5
    fresh = box.connector()  # another worker, nothing remembered: the listing finds the deals
    again = fresh.write_batch("deals:upsert", items)
    assert [r.created for r in again] == [False] * 5
    assert len(box.company.deals_with("leadbridge_id")) == 5
    box.company.counters.reset()
    [single] = box.connector().write_batch("deals:upsert", [_offer(1)])  # one unknown id: one search
    assert not single.created and box.company.counters["deals.search"] == 1


def test_given_a_reader_built_before_the_first_offer_then_it_still_reads_the_offers_and_their_labels(
    box: Box,
) -> None:
    reader = box.connector()
    assert list(reader.read_changes("deals", None)) == []  # no leadbridge_id field yet: nothing of ours
    writer = box.connector()  # another worker delivers the first offer: field and labels are created
    [written] = writer.write_batch("deals:upsert", [_offer(1)])
    box.company.edit_as_user("deal", int(str(written.remote_id)), {"labels": ["Offered", "Accepted"]})
    [page] = list(reader.read_changes("deals", None))
    assert [(c.external_id, c.record["labels"]) for c in page] == [
        (written.remote_id, ["accepted", "offered"])
    ]
