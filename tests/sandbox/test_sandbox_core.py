"""The shared sandbox core: HTTPS server, router, faults, counters, clock, seed data, registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from leadbridge.sandbox.clock import Clock
from leadbridge.sandbox.counters import Counters
from leadbridge.sandbox.faults import FaultDecision, Faults, Quota, apply_transport_faults
from leadbridge.sandbox.registry import plan_orgs
from leadbridge.sandbox.seed import PRODUCT_LINES, cities, generate_leads
from leadbridge.sandbox.server import (
    DropConnection,
    HTTPSServer,
    NoRoute,
    Request,
    Response,
    Router,
    json_response,
)
from leadbridge.sandbox.tls import SandboxTLS


@pytest.fixture(scope="module")
def tls() -> Iterator[SandboxTLS]:
    material = SandboxTLS()
    yield material
    material.cleanup()


def _items_router() -> Router:
    router = Router()
    router.add(
        "GET", r"/items/(?P<item>\w+)", "items.get", lambda r: json_response({"item": r.params["item"]})
    )
    router.add("POST", r"/items", "items.create", lambda r: json_response(r.json(), 201))
    return router


@pytest.fixture()
def served(tls: SandboxTLS) -> Iterator[tuple[HTTPSServer, Counters, Faults, list[int]]]:
    counters, faults, ports = Counters(), Faults(seed=3), []
    router = _items_router()

    def app(request: Request) -> Response:
        ports.append(request.client[1])
        try:
            match = router.resolve(request.method, request.path)
        except NoRoute as missing:
            return json_response({"allowed": missing.allowed}, 405 if missing.allowed else 404)
        counters.increment(match.endpoint)
        decision = faults.decide(match.endpoint)
        apply_transport_faults(decision)
        if decision.error:
            return json_response({"error": decision.error}, 503)
        request.params = match.params
        return match.handler(request)

    server = HTTPSServer(app, tls.server_context()).start()
    yield server, counters, faults, ports
    server.stop()


def _session(tls: SandboxTLS) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(tls.ca_file)
    return session


def test_given_https_server_when_requests_reuse_a_session_then_one_kept_alive_connection(served, tls):
    server, counters, _faults, ports = served
    session = _session(tls)
    for name in ("a", "b", "c"):
        assert session.get(f"{server.url}/items/{name}").json() == {"item": name}
    created = session.post(f"{server.url}/items", json={"x": 1})
    assert created.status_code == 201 and created.json() == {"x": 1}
    assert len(set(ports)) == 1, "every request should arrive over the same TLS connection"
    assert counters.snapshot() == {"items.create": 1, "items.get": 3}
    assert session.delete(f"{server.url}/items/a").status_code == 405
    assert session.get(f"{server.url}/nowhere").status_code == 404


def test_given_untrusted_client_when_connecting_then_tls_verification_fails(served):
    server = served[0]
    session = requests.Session()
    session.trust_env = False
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{server.url}/items/a")


def test_given_drop_rate_one_when_calling_then_connection_is_dropped(served, tls):
    server, _counters, faults, _ports = served
    faults.set("items.get", drop_rate=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        _session(tls).get(f"{server.url}/items/a")
    assert _session(tls).post(f"{server.url}/items", json={}).status_code == 201


def test_given_a_failing_app_when_calling_then_500_and_the_server_keeps_serving(tls, capsys):
    def app(request: Request) -> Response:
        if request.path == "/boom":
            raise RuntimeError("bug")
        return json_response({"ok": True})

    server = HTTPSServer(app, tls.server_context()).start()
    try:
        session = _session(tls)
        assert session.get(f"{server.url}/boom").status_code == 500
        assert session.get(f"{server.url}/fine").json() == {"ok": True}
    finally:
        server.stop()
    assert "RuntimeError: bug" in capsys.readouterr().err


def test_given_stopped_server_when_calling_then_connection_refused(tls):
    server = HTTPSServer(lambda r: json_response({}), tls.server_context()).start()
    session = _session(tls)
    assert session.get(server.url).status_code == 200
    server.stop()
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(server.url)


def test_given_same_seed_when_deciding_then_failures_replay_per_endpoint():
    def pattern(seed: int, noise: bool) -> list[bool]:
        faults = Faults(seed=seed)
        faults.set("query", error_rate=0.3, error="lock")
        verdicts = []
        for _ in range(50):
            if noise:  # calls to other endpoints in between must not shift the sequence
                faults.decide("create")
            verdicts.append(faults.decide("query").error == "lock")
        return verdicts

    first = pattern(11, noise=False)
    assert first == pattern(11, noise=True)
    assert first != pattern(12, noise=False)
    assert 5 <= sum(first) <= 25


def test_given_rules_when_deciding_then_endpoint_rule_beats_wildcard_and_clear_resets():
    faults = Faults(seed=1)
    faults.set(error_rate=1.0)
    faults.set("limits", latency=0.01)
    assert faults.decide("query").error == "server_error"
    assert faults.decide("limits") == FaultDecision(latency=0.01)
    faults.clear()
    assert faults.decide("query") == FaultDecision()
    with pytest.raises(TypeError):
        faults.set("query", eror_rate=1.0)
    with pytest.raises(ValueError):
        faults.set("query", error_rate=2.0)


def test_given_drop_decision_when_applied_then_drop_connection_raised():
    with pytest.raises(DropConnection):
        apply_transport_faults(FaultDecision(drop=True))


def test_given_session_expiry_armed_when_calling_then_it_fires_exactly_once():
    faults = Faults()
    faults.expire_session_after(2)
    assert [faults.session_expires_now() for _ in range(5)] == [False, False, True, False, False]


def test_given_quota_when_used_up_then_refused_until_the_day_changes():
    quota = Quota(limit=2)
    today = datetime(2026, 1, 1, tzinfo=UTC).date()
    assert quota.consume(today) and quota.consume(today)
    assert not quota.consume(today)
    assert quota.remaining == 0
    assert quota.consume(datetime(2026, 1, 2, tzinfo=UTC).date())


def test_given_a_quota_just_before_midnight_when_held_at_noon_then_it_neither_resets_nor_ends_soon():
    moment = [datetime(2026, 1, 1, 23, 59, 50, tzinfo=UTC)]
    quota = Quota(limit=1, clock=lambda: moment[0])
    assert quota.seconds_to_reset() == 10  # what a 429 says at 23:59:50: "retry in 10 s"
    quota.hold_at_noon()
    moment[0] = datetime(2026, 1, 2, 0, 0, 5, tzinfo=UTC)  # the wall clock passes midnight
    assert quota.consume() and not quota.consume()
    assert quota.seconds_to_reset() == 12 * 3600


def test_given_frozen_clock_when_reading_then_stamp_is_shared_until_advanced():
    clock = Clock()
    moment = clock.freeze(datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC))
    assert moment.microsecond == 123000
    assert clock.now() == clock.now() == moment
    assert clock.advance(1.5) == datetime(2026, 3, 1, 12, 0, 1, 623000, tzinfo=UTC)
    clock.unfreeze()
    assert clock.now() >= moment and not clock.frozen
    assert clock.now() < datetime(2026, 3, 2, tzinfo=UTC)  # continues from the frozen moment
    clock.reset()
    assert abs((clock.now() - datetime.now(UTC)).total_seconds()) < 1


def test_given_seed_when_generating_leads_then_deterministic_and_realistic():
    now = datetime(2026, 6, 1, tzinfo=UTC)
    first, again, other = (generate_leads(s, 200, now=now) for s in (5, 5, 6))
    assert first == again and first != other
    countries = {lead.country for lead in first}
    assert {"DE", "AT", "CH"} <= countries and len(countries) >= 5
    assert {lead.stage for lead in first} == {"lead", "mql", "sql"}
    assert all(set(lead.product_interests) <= set(PRODUCT_LINES) for lead in first)
    berlin = next(c for c in cities() if c.city == "Berlin")
    assert abs(berlin.latitude - 52.52) < 0.01
    for lead in first:
        if lead.country == "DE":
            assert len(lead.postal_code) == 5 and lead.postal_code.isdigit()
        assert "@" in lead.email and lead.email.isascii()


def test_given_partners_when_planning_then_manufacturer_everywhere_partners_round_robin():
    plan = plan_orgs(partners=3, leads=50, seed=9, services=["salesforce", "hubspot"])
    assert [o.name for o in plan["salesforce"]] == ["manufacturer", "partner-01", "partner-03"]
    assert [o.name for o in plan["hubspot"]] == ["manufacturer", "partner-02"]
    assert plan["salesforce"][0].leads == 50 and plan["salesforce"][1].seed == 10


def test_given_every_stand_in_when_sandbox_runs_then_describe_lists_each_org_and_stop_closes_ports():
    from leadbridge.sandbox import Sandbox
    from leadbridge.sandbox.registry import service_starters

    kinds = list(service_starters())
    assert kinds[0] == "salesforce"
    with Sandbox.plan(partners=3, leads=5, seed=1) as box:
        info = box.describe()
        assert set(info) >= {"ca_file", "salesforce", "hubspot"}
        partners = sorted(
            entry["name"] for kind in kinds for entry in info[kind] if entry["name"] != "manufacturer"
        )
        assert partners == ["partner-01", "partner-02", "partner-03"]
        assert all(any(e["name"] == "manufacturer" for e in info[kind]) for kind in kinds)
        url = info["salesforce"][0]["instance_url"]
        session = requests.Session()
        session.trust_env = False
        assert session.get(f"{url}/services/data/", verify=info["ca_file"]).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(f"{url}/services/data/", verify=False)
