"""Admin roles on every cockpit route and the admin REST API: a read-only admin changes nothing, a
channel manager sees and changes only the leads and partners of its regions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from leadbridge.cli.main import _register, app
from leadbridge.connectors.registry import default_registry
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.roles import Role, Scope, parse_regions
from leadbridge.core.store.database import Database
from leadbridge.core.store.tables import LeadRow, OfferRow
from leadbridge.runtime import build_runtime
from leadbridge.web.accounts import create_admin, create_api_key
from leadbridge.web.app import create_app
from leadbridge.web.deps import ADMIN_COOKIE, current_admin
from leadbridge.web.sessions import start_session
from tests.builders import TEST_SECRET_KEY, a_partner
from tests.web.conftest import ADMIN_PASSWORD, World, csrf_from


def _client(world: World, email: str, role: Role, regions: tuple[str, ...] = ()) -> TestClient:
    with world.database.transaction() as session:
        admin = create_admin(session, email, ADMIN_PASSWORD, role=role, regions=regions)
        token = start_session(session, "admin", admin.id)
    client = world.client()
    client.cookies.set(ADMIN_COOKIE, token)
    return client


def _key(world: World, role: Role, regions: tuple[str, ...] = ()) -> dict[str, str]:
    with world.database.transaction() as session:
        _, raw = create_api_key(session, f"tool-{role.value}", role=role, regions=regions)
    return {"Authorization": f"Bearer {raw}"}


def _needs_admin(route: APIRoute, inherited: list[Any]) -> bool:
    if any(getattr(d, "dependency", None) is current_admin for d in inherited):
        return True
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.call is current_admin:
            return True
        stack.extend(dependency.dependencies)
    return False


def _routes(
    routes: list[Any], prefix: str = "", inherited: tuple[Any, ...] = ()
) -> list[tuple[str, APIRoute, list[Any]]]:
    """Every API route of the app with its full path and the dependencies its routers add."""
    found: list[tuple[str, APIRoute, list[Any]]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route, list(inherited)))
        elif hasattr(route, "original_router"):  # FastAPI's included router
            context = route.include_context
            found += _routes(
                route.original_router.routes, prefix + context.prefix, (*inherited, *context.dependencies)
            )
    return found


def _changing_admin_routes(world: World) -> list[tuple[str, str]]:
    """(method, path) of every route that changes something and needs an admin, ids filled in."""
    ids = {"lead_id": world.lead_a, "partner_id": world.partner_a, "offer_id": world.offer_a}
    found = []
    for full_path, route, inherited in _routes(list(world.app.routes)):
        if not _needs_admin(route, inherited) or full_path == "/cockpit/logout":
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: ids.get(m.group(1), "1"), full_path)
        found += [(method, path) for method in sorted(route.methods - {"GET", "HEAD"})]
    return found


def _snapshot(world: World) -> Any:
    with world.database.transaction() as session:
        partners = [p.model_dump() for p in PartnerRepository(session).all()]
        leads = [(r.id, r.state, r.partner_id) for r in session.scalars(select(LeadRow).order_by(LeadRow.id))]
        offers = [(r.id, r.status) for r in session.scalars(select(OfferRow).order_by(OfferRow.id))]
    return partners, leads, offers


def test_given_a_read_only_admin_then_no_cockpit_or_api_route_changes_anything(world: World) -> None:
    cockpit = _client(world, "viewer@maker.example", Role.READ_ONLY)
    api = _key(world, Role.READ_ONLY)
    token = csrf_from(cockpit, "/cockpit/leads")
    before = _snapshot(world)
    routes = _changing_admin_routes(world)
    assert len(routes) >= 15  # reroute, assign, partner pages, policy, costs, erase, API writes, …
    for method, path in routes:
        if path.startswith("/api/"):
            answer = world.client().request(method, path, headers=api, json={})
        else:
            answer = cockpit.request(method, path, data={"csrf_token": token})
        assert answer.status_code == 403, (method, path, answer.status_code, answer.text[:300])
        assert "read-only" in answer.text, (method, path)
    assert _snapshot(world) == before
    # reading works, and signing out too
    assert cockpit.get(f"/cockpit/leads/{world.lead_a}").status_code == 200
    assert cockpit.get(f"/cockpit/partners/{world.partner_a}/edit").status_code == 200
    assert world.client().get("/api/v1/leads", headers=api).status_code == 200
    assert cockpit.post("/cockpit/logout", data={"csrf_token": token}).status_code == 303


def test_given_a_channel_manager_then_it_sees_and_changes_only_its_regions(world: World) -> None:
    with world.database.transaction() as session:  # a partner serving Berlin only, one serving all DE
        north = a_partner(
            session, name="Nord Wärme", territory={"countries": ["DE"], "postal_prefixes": ["10"]}
        )
        vienna = a_partner(session, name="Wien Solar", territory={"countries": ["AT"]})
    berlin_lead, _ = world.offer(
        world.partner_b, address={"postal_code": "10115", "city": "Berlin", "country": "DE"}
    )
    munich_lead = world.lead_a  # 80331 München (the builders' address)
    manager = _client(world, "south@maker.example", Role.CHANNEL_MANAGER, ("DE-8",))
    key = _key(world, Role.CHANNEL_MANAGER, ("DE-8",))
    listed = manager.get("/cockpit/leads").text
    assert 'id="admin-role" title="DE-8">channel manager</span>' in listed
    assert munich_lead in listed and berlin_lead not in listed
    api_ids = [i["id"] for i in world.client().get("/api/v1/leads", headers=key).json()["items"]]
    assert munich_lead in api_ids and berlin_lead not in api_ids
    assert manager.get(f"/cockpit/leads/{berlin_lead}").status_code == 404
    assert world.client().get(f"/api/v1/leads/{berlin_lead}", headers=key).status_code == 404
    assert manager.get(f"/cockpit/leads/{munich_lead}").status_code == 200
    token = csrf_from(manager, f"/cockpit/leads/{munich_lead}")
    assert (
        manager.post(f"/cockpit/leads/{berlin_lead}/reroute", data={"csrf_token": token}).status_code == 404
    )
    assert (
        manager.post(f"/cockpit/leads/{munich_lead}/reroute", data={"csrf_token": token}).status_code == 303
    )
    assign = {"csrf_token": token, "partner_id": north.id}  # a partner of another region
    assert manager.post(f"/cockpit/leads/{munich_lead}/assign", data=assign).status_code == 404
    partners = manager.get("/cockpit/partners").text
    assert "Alpha Heizung" in partners and "Nord Wärme" not in partners and "Wien Solar" not in partners
    api_partners = {p["name"] for p in world.client().get("/api/v1/partners", headers=key).json()}
    assert "Alpha Heizung" in api_partners and not {"Nord Wärme", "Wien Solar"} & api_partners
    assert manager.get(f"/cockpit/partners/{north.id}/edit").status_code == 404
    assert (
        manager.post(f"/cockpit/partners/{vienna.id}/resume", data={"csrf_token": token}).status_code == 404
    )
    assert (
        manager.post(f"/cockpit/partners/{world.partner_a}/resume", data={"csrf_token": token}).status_code
        == 303
    )
    # areas without a region are the admins'
    for path in ("/cockpit/policy", "/cockpit/audit", "/cockpit/outbox", "/cockpit/costs", "/cockpit/sla"):
        answer = manager.get(path)
        assert answer.status_code == 403 and "channel manager" in answer.text, path
    assert manager.post("/cockpit/partners/new", data={"csrf_token": token, "name": "X"}).status_code == 403
    answer = world.client().put("/api/v1/partners", headers=key, json={"name": "X"})
    assert answer.status_code == 403 and answer.json()["error"] == "forbidden"


def test_regions_and_roles_are_validated() -> None:
    assert parse_regions(["de-8, Austria", "DE-8"]) == ("DE-8", "AT")
    with pytest.raises(ValueError, match="not a country code"):
        parse_regions(["Atlantis-1"])
    scope = Scope(Role.CHANNEL_MANAGER, ("DE-8",))
    assert scope.covers_lead("DE", "80331") and not scope.covers_lead("DE", "10115")
    assert not scope.covers_lead("AT", "8010")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "leadbridge.yaml").write_text(
        f"database_url: sqlite:///lb.db\npublic_url: http://testserver\nsecret_key: {TEST_SECRET_KEY}\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = default_registry().load_settings(tmp_path / "leadbridge.yaml")
    Database(settings.sqlalchemy_url).upgrade()
    _register()
    return tmp_path


def test_given_roles_from_the_cli_then_the_cockpit_signs_them_in_with_them(project: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(
        app, ["users", "add-admin", "cm@maker.example", "--password", "x" * 12, "--role", "channel_manager"]
    )
    assert bad.exit_code != 0 and "needs at least one region" in bad.output
    made = runner.invoke(
        app, ["users", "add-admin", "cm@maker.example", "--password", "x" * 12, "--role", "channel-manager",
              "--region", "DE-8", "--region", "AT"],
    )  # fmt: skip
    assert made.exit_code == 0 and "channel_manager for DE-8,AT" in made.output, made.output
    changed = runner.invoke(app, ["users", "set-role", "cm@maker.example", "--role", "read_only"])
    assert changed.exit_code == 0 and "read_only" in changed.output
    listed = json.loads(runner.invoke(app, ["users", "list", "--json"]).output.splitlines()[-1])
    assert listed[0]["role"] == "read_only"
    key = runner.invoke(app, ["api-keys", "create", "bi-tool", "--role", "read_only", "--json"])
    raw = json.loads(key.output.splitlines()[-1])["key"]
    settings = default_registry().load_settings(project / "leadbridge.yaml")
    client = TestClient(create_app(build_runtime(settings)), follow_redirects=False)
    headers = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/partners", headers=headers).status_code == 200
    assert client.put("/api/v1/partners", headers=headers, json={"name": "X"}).status_code == 403
    page = client.get("/cockpit/login").text
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    login = client.post(
        "/cockpit/login", data={"csrf_token": token, "email": "cm@maker.example", "password": "x" * 12}
    )
    assert login.status_code == 303
    assert client.get("/cockpit/leads").status_code == 200
    token = csrf_from(client, "/cockpit/leads")
    assert client.post("/cockpit/outbox/retry", data={"csrf_token": token, "ids": "1"}).status_code == 403
