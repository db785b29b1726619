"""The partner REST API's pool: blind listings, cherry pick (first claim wins), blind pull, limits."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from leadbridge.core.leads import LeadService
from leadbridge.core.model import utcnow
from leadbridge.core.store.tables import OfferRow
from tests.pool.helpers import api, assert_blind, pooled_lead, state_of, use_policy
from tests.web.conftest import World, csrf_from


def test_given_a_pool_lead_when_partners_list_it_then_blind_and_the_claim_reveals_it_to_the_winner_only(
    world: World,
) -> None:
    policy = use_policy(world, mode="pool", pool_hours=12)
    lead = pooled_lead(world, policy, industry="manufacturing", employees=300)
    alpha, beta = api(world, world.partner_a), api(world, world.partner_b)

    for client in (alpha, beta):
        listing = client.get("/api/v1/partner/pool")
        assert listing.status_code == 200, listing.text
        assert_blind(listing.text, lead)
        (item,) = [i for i in listing.json()["items"] if i["lead_id"] == lead["id"]]
        assert item["region"] == "DE-80" and item["industry"] == "manufacturing"
        assert item["size"] == "mid_market" and item["products"] == ["heat_pumps"]
        assert item["score"] is not None and item["age_hours"] >= 0
        window = item["window_ends_at"].replace("Z", "+00:00")
        assert abs((utcnow() + timedelta(hours=12)).timestamp() - _ts(window)) < 120
        # not the winner: the lead itself stays hidden
        assert client.get(f"/api/v1/partner/leads/{lead['id']}").status_code == 404

    won = alpha.post(f"/api/v1/partner/pool/{lead['id']}/claim")
    assert won.status_code == 200, won.text
    assert won.json()["lead"]["email"] == lead["email"] and won.json()["state"] == "accepted"
    assert alpha.post(f"/api/v1/partner/pool/{lead['id']}/claim").json()["event_id"] == won.json()["event_id"]

    lost = beta.post(f"/api/v1/partner/pool/{lead['id']}/claim")
    assert lost.status_code == 409 and "claimed by another partner" in lost.json()["error"]
    assert_blind(lost.text, lead)
    assert lead["id"] not in beta.get("/api/v1/partner/pool").text
    assert beta.get(f"/api/v1/partner/leads/{lead['id']}").status_code == 404
    assert state_of(world, lead["id"]) == ("accepted", world.partner_a)


def _ts(iso: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(iso).timestamp()


def race(clients: list[TestClient], path: str) -> dict[int, int]:
    """POST ``path`` from every client at once (released by a barrier); status code per client."""
    barrier = threading.Barrier(len(clients))
    answers: dict[int, int] = {}

    def post(index: int, client: TestClient) -> None:
        barrier.wait()
        answers[index] = client.post(path).status_code

    threads = [threading.Thread(target=post, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return answers


def test_given_two_partners_claiming_at_once_then_one_200_and_one_409(world: World) -> None:
    """Real concurrency: two threads, two partner keys, the same leads, released together."""
    policy = use_policy(world, mode="pool")
    clients = [api(world, world.partner_a), api(world, world.partner_b)]
    for round_ in range(4):
        lead = pooled_lead(world, policy, n=str(round_))
        answers = race(clients, f"/api/v1/partner/pool/{lead['id']}/claim")
        assert sorted(answers.values()) == [200, 409], answers
        winner = world.partner_a if answers[0] == 200 else world.partner_b
        assert state_of(world, lead["id"]) == ("accepted", winner)
        with world.database.transaction() as session:
            accepts = [e for e in LeadService(session).events(lead["id"]) if e.kind == "accept"]
        assert [e.partner_id for e in accepts] == [winner]


def test_given_a_pool_when_pulled_then_the_best_lead_is_claimed_and_an_empty_pool_is_a_clear_404(
    world: World,
) -> None:
    policy = use_policy(world, mode="pool")
    leads = [pooled_lead(world, policy, n=str(n)) for n in range(2)]
    alpha = api(world, world.partner_a)
    listed = [i["lead_id"] for i in alpha.get("/api/v1/partner/pool").json()["items"]]
    assert sorted(listed) == sorted(lead["id"] for lead in leads)

    first = alpha.post("/api/v1/partner/pool/pull")
    assert first.status_code == 200, first.text
    assert first.json()["lead"]["id"] == listed[0]  # the best-listed lead for this partner
    assert first.json()["lead"]["phone"] is not None
    second = alpha.post("/api/v1/partner/pool/pull")
    assert second.json()["lead"]["id"] == listed[1]

    empty = alpha.post("/api/v1/partner/pool/pull")
    assert empty.status_code == 404
    assert "your pool is empty" in empty.json()["error"]


def test_given_a_partner_at_its_open_claims_limit_then_its_pool_is_read_only(world: World) -> None:
    policy = use_policy(world, mode="pool", pool={"max_open_claims": 1})
    leads = [pooled_lead(world, policy, n=str(n)) for n in range(2)]
    alpha = api(world, world.partner_a)
    assert alpha.post(f"/api/v1/partner/pool/{leads[0]['id']}/claim").status_code == 200

    pool = alpha.get("/api/v1/partner/pool").json()
    assert pool["limits"]["read_only"] and "limit 1" in pool["limits"]["reason"]
    assert [i["lead_id"] for i in pool["items"]] == [leads[1]["id"]]  # still listed, read-only
    refused = alpha.post(f"/api/v1/partner/pool/{leads[1]['id']}/claim")
    assert refused.status_code == 409 and "read-only" in refused.json()["error"]
    assert alpha.post("/api/v1/partner/pool/pull").status_code == 409
    # another partner is not limited by alpha's claims
    assert api(world, world.partner_b).post(f"/api/v1/partner/pool/{leads[1]['id']}/claim").status_code == 200


def test_given_a_claims_per_day_limit_when_reached_then_no_more_claims_today(world: World) -> None:
    policy = use_policy(world, mode="pool", pool={"claims_per_day": 1})
    leads = [pooled_lead(world, policy, n=str(n)) for n in range(2)]
    alpha = api(world, world.partner_a)
    assert alpha.post(f"/api/v1/partner/pool/{leads[0]['id']}/claim").status_code == 200
    refused = alpha.post(f"/api/v1/partner/pool/{leads[1]['id']}/claim")
    assert refused.status_code == 409 and "1 a day" in refused.json()["error"]


@pytest.mark.parametrize(
    ("claim", "allowed", "refused"), [("blind_pull", "pull", "claim"), ("cherry_pick", "claim", "pull")]
)
def test_given_a_pool_with_one_claim_style_then_the_other_is_refused(
    world: World, claim: str, allowed: str, refused: str
) -> None:
    policy = use_policy(world, mode="pool", pool={"claim": claim})
    lead = pooled_lead(world, policy)
    alpha = api(world, world.partner_a)
    paths = {"pull": "/api/v1/partner/pool/pull", "claim": f"/api/v1/partner/pool/{lead['id']}/claim"}
    assert alpha.post(paths[refused]).status_code == 409
    assert alpha.post(paths[allowed]).status_code == 200


def test_given_a_partner_system_when_it_lists_held_leads_then_pages_and_updated_since(world: World) -> None:
    policy = use_policy(world, mode="pool")
    leads = [pooled_lead(world, policy, n=str(n)) for n in range(3)]
    alpha = api(world, world.partner_a)
    for lead in leads:
        assert alpha.post(f"/api/v1/partner/pool/{lead['id']}/claim").status_code == 200
    held = api(world, world.partner_b).get("/api/v1/partner/leads").json()
    assert held["items"] == []  # beta holds nothing

    seen, cursor = [], None
    while True:
        page = alpha.get(
            "/api/v1/partner/leads", params={"limit": 2, **({"after": cursor} if cursor else {})}
        ).json()
        seen += [item["lead_id"] for item in page["items"]]
        assert all(item["lead"]["email"] for item in page["items"])  # held: in full
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [lead["id"] for lead in leads]
    last = alpha.get("/api/v1/partner/leads").json()["items"][-1]["updated_at"]
    since = alpha.get("/api/v1/partner/leads", params={"updated_since": last}).json()["items"]
    assert [item["lead_id"] for item in since] == [leads[-1]["id"]]
    assert alpha.get("/api/v1/partner/leads", params={"after": "bogus"}).status_code == 422


def test_given_a_pool_listing_when_taken_through_the_offer_routes_then_the_pool_rules_still_hold(
    world: World,
) -> None:
    """The mail link, the inbox offer page and the offers API claim a listing under the pool's rules."""
    policy = use_policy(world, mode="pool", pool={"max_open_claims": 1})
    first, second = pooled_lead(world, policy, n="1"), pooled_lead(world, policy, n="2")
    alpha = api(world, world.partner_a)
    listings = {o["offer_id"]: o for o in alpha.get("/api/v1/partner/offers").json() if o["mode"] == "pool"}
    assert len(listings) == 2
    by_lead = {}
    with world.database.transaction() as session:
        for offer_id in listings:
            row = session.get(OfferRow, offer_id)
            assert row is not None
            by_lead[row.lead_id] = offer_id
    assert alpha.post(f"/api/v1/partner/offers/{by_lead[first['id']]}/accept").status_code == 200
    refused = alpha.post(f"/api/v1/partner/offers/{by_lead[second['id']]}/accept")
    assert refused.status_code == 409 and "read-only" in refused.json()["error"]
    page = world.partner_client(world.user_a)
    token = csrf_from(page, f"/inbox/offers/{by_lead[second['id']]}")
    tapped = page.post(f"/inbox/offers/{by_lead[second['id']]}/accept", data={"csrf_token": token})
    assert tapped.status_code == 409
    assert state_of(world, second["id"]) == ("offered", None)


def test_given_two_partners_pulling_at_once_then_each_gets_a_different_lead(world: World) -> None:
    policy = use_policy(world, mode="pool")
    leads = {pooled_lead(world, policy, n=str(n))["id"] for n in range(2)}
    clients = [api(world, world.partner_a), api(world, world.partner_b)]
    assert sorted(race(clients, "/api/v1/partner/pool/pull").values()) == [200, 200]
    holders = {state_of(world, lead_id) for lead_id in leads}
    assert holders == {("accepted", world.partner_a), ("accepted", world.partner_b)}
