"""REST API /api/v1: admin keys create leads and partners; partner keys act only for their partner."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leadbridge.web.accounts import create_api_key
from tests.web.conftest import World


def _keys(world: World) -> tuple[str, str, str]:
    with world.database.transaction() as session:
        admin = create_api_key(session, "crm-import")[1]
        key_a = create_api_key(session, "alpha-crm", world.partner_a)[1]
        key_b = create_api_key(session, "beta-crm", world.partner_b)[1]
    return admin, key_a, key_b


def _client(world: World, key: str | None) -> TestClient:
    client = world.client()
    if key:
        client.headers["Authorization"] = f"Bearer {key}"
    return client


LEAD = {
    "external_id": "WEB-1",
    "source_connection": "webform",
    "first_name": "Jana",
    "last_name": "Beispiel",
    "email": "jana@beispiel.example",
    "company": "Beispiel AG",
    "address": {"postal_code": "10115", "country": "Germany"},
    "product_interests": ["heat_pumps"],
    "stage": "sql",
}


def test_openapi_document_lists_the_api(world: World) -> None:
    paths = world.client().get("/openapi.json").json()["paths"]
    assert "/api/v1/leads" in paths and "/api/v1/partner/offers/{offer_id}/accept" in paths
    assert not any(p.startswith("/inbox") or p.startswith("/cockpit") for p in paths)


def test_without_a_key_401_and_with_the_wrong_kind_of_key_403(world: World) -> None:
    admin, key_a, _ = _keys(world)
    assert _client(world, None).get("/api/v1/partners").status_code == 401
    assert _client(world, "lbk_forged").get("/api/v1/partner/offers").status_code == 401
    assert _client(world, key_a).get("/api/v1/partners").status_code == 403
    assert _client(world, admin).get("/api/v1/partner/offers").status_code == 403


def test_a_session_cookie_is_not_accepted_on_the_api(world: World) -> None:
    client = world.partner_client(world.user_a)
    assert client.get("/api/v1/partner/offers").status_code == 401


def test_admin_creates_a_lead_idempotently_and_reads_its_events(world: World) -> None:
    admin, _, _ = _keys(world)
    client = _client(world, admin)
    first = client.post("/api/v1/leads", json=LEAD)
    assert first.status_code == 201 and first.json()["result"] == "created"
    again = client.post("/api/v1/leads", json=LEAD)
    assert again.json() == {"lead_id": first.json()["lead_id"], "result": "unchanged"}
    lead_id = first.json()["lead_id"]
    shown = client.get(f"/api/v1/leads/{lead_id}").json()
    assert shown["state"] == "qualified" and shown["lead"]["address"]["country"] == "DE"
    kinds = [e["kind"] for e in client.get(f"/api/v1/leads/{lead_id}/events").json()]
    assert kinds == ["receive", "qualify"]
    assert client.get("/api/v1/leads/L-nope").status_code == 404


def test_admin_imports_leads_and_invalid_input_is_422(world: World) -> None:
    admin, _, _ = _keys(world)
    client = _client(world, admin)
    batch = [{**LEAD, "external_id": f"WEB-{n}", "email": f"x{n}@example.com"} for n in range(3)]
    response = client.post("/api/v1/leads/import", json=batch)
    assert [r["result"] for r in response.json()] == ["created"] * 3
    batch[1]["company"] = "Renamed GmbH"
    again = client.post("/api/v1/leads/import", json=batch).json()
    assert [r["result"] for r in again] == ["unchanged", "updated", "unchanged"]
    assert [r["lead_id"] for r in again] == [r["lead_id"] for r in response.json()]
    pages, after = [], None
    while True:
        page = client.get("/api/v1/leads", params={"limit": 2, **({"after": after} if after else {})}).json()
        pages.append([item["id"] for item in page["items"]])
        after = page["next"]
        if after is None:
            break
    listed = [lead_id for page in pages for lead_id in page]
    assert {r["lead_id"] for r in response.json()} <= set(listed) and len(listed) == len(set(listed))
    assert all(len(page) <= 2 for page in pages)
    assert client.get("/api/v1/leads", params={"after": "garbage"}).status_code == 422
    no_key = client.post("/api/v1/leads/import", json=[{**LEAD, "external_id": None}])
    assert no_key.status_code == 422 and "external_id" in no_key.text
    assert client.post("/api/v1/leads", json={**LEAD, "email": "not-an-address"}).status_code == 422
    assert client.post("/api/v1/leads", json={**LEAD, "external_id": None}).status_code == 422


def test_a_bulk_re_import_updates_only_the_fields_each_body_sets(world: World) -> None:
    """Imports are partial updates (issue 15): a field the JSON body leaves out keeps the stored
    value, a nested object is merged field by field, and ``null`` clears."""
    admin, _, _ = _keys(world)
    client = _client(world, admin)
    first = {**LEAD, "external_id": "WEB-P", "email": "p@example.com", "phone": "+49 30 1234567"}
    (created,) = client.post("/api/v1/leads/import", json=[first]).json()
    partial = {"external_id": "WEB-P", "source_connection": "webform", "email": "p@example.com",
               "company": "Neu GmbH", "address": {"city": "Berlin"}, "phone": None}  # fmt: skip
    (again,) = client.post("/api/v1/leads/import", json=[partial]).json()
    assert again == {"lead_id": created["lead_id"], "result": "updated"}
    lead = client.get(f"/api/v1/leads/{created['lead_id']}").json()["lead"]
    assert (lead["first_name"], lead["last_name"], lead["company"]) == ("Jana", "Beispiel", "Neu GmbH")
    assert lead["address"]["postal_code"] == "10115" and lead["address"]["city"] == "Berlin"
    assert lead["product_interests"] == ["heat_pumps"] and lead["stage"] == "sql"
    assert lead["phone"] is None


def test_admin_upserts_and_lists_partners(world: World) -> None:
    admin, _, _ = _keys(world)
    client = _client(world, admin)
    created = client.put("/api/v1/partners", json={"name": "Gamma", "external_id": "G-1"}).json()
    renamed = client.put("/api/v1/partners", json={"name": "Gamma GmbH", "external_id": "G-1"}).json()
    assert renamed["id"] == created["id"]
    names = [p["name"] for p in client.get("/api/v1/partners").json()]
    assert "Gamma GmbH" in names and "Alpha Heizung" in names
    assert client.get(f"/api/v1/partners/{created['id']}").json()["name"] == "Gamma GmbH"


def test_partner_system_lists_blind_offers_accepts_and_works_the_lead(world: World) -> None:
    _, key_a, _ = _keys(world)
    client = _client(world, key_a)
    offers = client.get("/api/v1/partner/offers").json()
    assert [o["offer_id"] for o in offers] == [world.offer_a]
    assert "email" not in offers[0] and "company" not in offers[0]
    accepted = client.post(f"/api/v1/partner/offers/{world.offer_a}/accept")
    assert accepted.status_code == 200 and accepted.json()["to_state"] == "accepted"
    lead = f"/api/v1/partner/leads/{world.lead_a}"
    detail = client.get(lead).json()
    assert detail["lead"]["email"] and detail["offer_id"] == world.offer_a
    status = client.post(f"{lead}/status", params={"request_id": "crm-42"}, json={"status": "proposal"})
    replay = client.post(f"{lead}/status", params={"request_id": "crm-42"}, json={"status": "proposal"})
    assert status.json()["event_id"] == replay.json()["event_id"]
    assert client.post(f"{lead}/notes", json={"text": "called"}).status_code == 200
    assert client.post(f"{lead}/contacts", json={"channel": "email"}).status_code == 200
    assert client.post(f"{lead}/rating", json={"rating": 9}).status_code == 422
    assert client.post(f"{lead}/rating", json={"rating": 3}).status_code == 200
    won = client.post(f"{lead}/outcome", json={"result": "won", "amount": "5000"})
    assert won.json()["to_state"] == "won"
    assert (
        client.post(f"{lead}/outcome", json={"result": "lost", "reason_code": "no_budget"}).status_code == 409
    )


def test_partner_system_declines_and_a_decided_offer_is_409(world: World) -> None:
    _, key_a, _ = _keys(world)
    client = _client(world, key_a)
    path = f"/api/v1/partner/offers/{world.offer_a}"
    assert client.post(f"{path}/decline", json={"reason_code": "no_fit"}).status_code == 200
    assert client.post(f"{path}/decline", json={"reason_code": "no_fit"}).status_code == 200  # replay
    assert client.post(f"{path}/accept").status_code == 409
    assert client.get(path).json()["status"] == "declined"


def test_partner_system_returns_a_lead(world: World) -> None:
    _, key_a, _ = _keys(world)
    client = _client(world, key_a)
    client.post(f"/api/v1/partner/offers/{world.offer_a}/accept")
    response = client.post(
        f"/api/v1/partner/leads/{world.lead_a}/return", json={"reason_code": "no_capacity"}
    )
    assert response.json()["to_state"] == "returned"
    assert client.get(f"/api/v1/partner/leads/{world.lead_a}").status_code == 404


def test_another_partners_ids_are_404_on_every_partner_api_route(world: World) -> None:
    _, key_a, key_b = _keys(world)
    _client(world, key_b).post(f"/api/v1/partner/offers/{world.offer_b}/accept")
    client = _client(world, key_a)
    offer = f"/api/v1/partner/offers/{world.offer_b}"
    lead = f"/api/v1/partner/leads/{world.lead_b}"
    assert client.get(offer).status_code == 404
    assert client.post(f"{offer}/accept").status_code == 404
    assert client.post(f"{offer}/decline", json={"reason_code": "no_fit"}).status_code == 404
    assert client.get(lead).status_code == 404
    for action, body in [
        ("status", {"status": "meeting"}),
        ("outcome", {"result": "won", "amount": 1}),
        ("notes", {"text": "x"}),
        ("contacts", {"channel": "phone"}),
        ("rating", {"rating": 2}),
        ("return", {"reason_code": "no_fit"}),
    ]:
        assert client.post(f"{lead}/{action}", json=body).status_code == 404, action
