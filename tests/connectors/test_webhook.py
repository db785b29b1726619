"""The webhook kind against a real local receiver that verifies every delivery with
``standardwebhooks.Webhook(secret).verify`` (independently of the connector's signing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from leadbridge.connectors.registry import default_registry
from leadbridge.core.errors import ConfigError
from leadbridge.ports import Action, Capability, WriteItem
from tests.connectors.contract import Recorder, build
from tests.connectors.webhook_receiver import SECRET, Receiver, serve

REGISTRY = default_registry()


def _connector(receiver: Receiver, slept: list[float], secret: str = SECRET) -> Any:
    values = {
        "name": "hook",
        "kind": "webhook",
        "role": "partner",
        "url": receiver.url,
        "signing_secret": secret,
    }
    return build(REGISTRY, values, Recorder(slept, real=False).policy())


def _offer(key: str = "evt-1", **data: Any) -> WriteItem:
    return WriteItem(key, {"type": "offered", "data": {"lead_id": "L1", "offer_id": "O1", **data}})


def test_given_an_offer_event_then_it_arrives_signed_and_verifies_with_standardwebhooks() -> None:
    with serve() as receiver:
        [result] = _connector(receiver, []).write_batch("events", [_offer()])
        assert result.ok and result.remote_id == "evt-1"
        [(headers, body)] = receiver.verified
        assert headers["webhook-id"] == "evt-1" and headers["webhook-signature"].startswith("v1,")
        assert int(headers["webhook-timestamp"]) > 0
        assert body["type"] == "lead.offered" and body["data"] == {"lead_id": "L1", "offer_id": "O1"}


def test_given_a_wrong_secret_then_the_receiver_refuses_and_the_item_fails_fatally() -> None:
    with serve() as receiver:
        [result] = _connector(receiver, [], secret="whsec_" + "QUJD" * 8).write_batch("events", [_offer()])
        assert not result.ok and result.action is Action.FATAL and "secret" in (result.error or "")
        assert receiver.verified == []


def test_given_500_then_200_then_the_event_is_retried_through_the_policy_and_lands_once() -> None:
    slept: list[float] = []
    with serve() as receiver:
        receiver.answer(500)
        [result] = _connector(receiver, slept).write_batch("events", [_offer()])
        assert result.ok and receiver.hits == 2 and len(slept) == 1
        assert [h["webhook-id"] for h, _ in receiver.verified] == ["evt-1"]


def test_given_a_429_with_retry_after_then_it_waits_at_least_that_long() -> None:
    slept: list[float] = []
    with serve() as receiver:
        receiver.answer(429, **{"Retry-After": "3"})
        [result] = _connector(receiver, slept).write_batch("events", [_offer()])
        assert result.ok and slept and slept[0] >= 3


def test_given_a_partner_that_stays_down_then_the_item_fails_for_a_later_retry() -> None:
    with serve() as receiver:
        for _ in range(5):
            receiver.answer(503)
        [result] = _connector(receiver, []).write_batch("events", [_offer()])
        assert not result.ok and result.action is Action.RETRY and receiver.verified == []


def test_given_a_400_for_one_event_then_only_it_is_skipped_with_the_partners_reason() -> None:
    with serve() as receiver:
        items = [
            _offer("a"),
            _offer("b", refuse=True),
            WriteItem("c", {"type": "won", "data": {"lead_id": "L1"}}),
        ]
        results = _connector(receiver, []).write_batch("events", items)
        assert [r.ok for r in results] == [True, False, True]
        assert results[1].action is Action.SKIP and "unknown lead reference" in (results[1].error or "")
        assert [b["type"] for _, b in receiver.verified] == ["lead.offered", "lead.won"]


def test_given_an_unknown_event_type_then_it_is_skipped_without_a_request() -> None:
    with serve() as receiver:
        [result] = _connector(receiver, []).write_batch("events", [WriteItem("x", {"type": "hired"})])
        assert result.action is Action.SKIP and receiver.hits == 0


def test_given_settings_then_the_kind_is_a_write_only_partner_and_the_secret_must_be_whsec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = REGISTRY.kind("webhook")
    assert kind.capabilities == {Capability.PARTNER, Capability.WRITE_ONLY}
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    config = tmp_path / "leadbridge.yaml"
    config.write_text(
        "connections:\n  out:\n    kind: webhook\n    role: partner\n    url: https://partner.example/hooks\n"
        "    signing_secret_env: TEST_HOOK_SECRET\n"
    )
    assert REGISTRY.load_settings(config).connection("out").secret("signing_secret") == SECRET
    monkeypatch.setenv("TEST_HOOK_SECRET", "plain-password")
    with pytest.raises(ConfigError, match="whsec_") as raised:
        REGISTRY.load_settings(config)
    assert "plain-password" not in str(raised.value)
    config.write_text(
        "connections:\n  out:\n    kind: webhook\n    role: manufacturer\n    url: https://x\n"
        "    signing_secret_env: TEST_HOOK_SECRET\n"
    )
    monkeypatch.setenv("TEST_HOOK_SECRET", SECRET)
    with pytest.raises(ConfigError, match="role"):
        REGISTRY.load_settings(config)
