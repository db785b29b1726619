"""``leadbridge route``, ``simulate``, ``tune`` and ``policy`` against a real (SQLite) database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from leadbridge.cli import geo, policies, routing
from leadbridge.cli.context import LazyRuntime
from leadbridge.core.leads import LeadService
from leadbridge.core.lifecycle import EventKind
from leadbridge.core.offers import OfferService
from leadbridge.core.partners import PartnerRepository
from leadbridge.core.store.database import Database
from tests.matching.helpers import lead, partner

RUNNER = CliRunner()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Database, list[str]]:
    url = f"sqlite:///{tmp_path / 'leadbridge.db'}"
    (tmp_path / "leadbridge.yaml").write_text(f"database_url: {url}\npolicy: policy.yaml\n")
    (tmp_path / "policy.yaml").write_text("version: 1\n")
    database = Database(url)
    database.upgrade()
    ids = []
    with database.transaction() as session:
        repo = PartnerRepository(session)
        repo.upsert(partner("P-near", name="Nah GmbH"))
        repo.upsert(partner("P-far", name="Fern KG", location_latitude=49.4, location_longitude=11.1))
        repo.upsert(partner("P-at", name="Wien AG", territory={"countries": ["AT"]}))
        service = LeadService(session)
        for number in range(3):
            item = lead(email=f"anna{number}@muster.example")  # three people (routing skips duplicates)
            service.receive(item, actor="t", source_system="t", idempotency_key=f"r:{item.id}")
            service.apply(item.id, EventKind.QUALIFY, actor="t", idempotency_key=f"q:{item.id}")
            ids.append(item.id)
    monkeypatch.setenv("LEADBRIDGE_CONFIG", str(tmp_path / "leadbridge.yaml"))
    return tmp_path, database, ids


def app() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def lazy(ctx: typer.Context) -> None:  # what `leadbridge`'s root callback does
        ctx.obj = LazyRuntime(None)

    routing.register(root)
    geo.register(root)
    policies.register(root)
    return root


def test_given_a_lead_when_dry_run_then_explained_decision_and_nothing_created(project: tuple) -> None:
    _, database, ids = project
    result = RUNNER.invoke(app(), ["route", ids[0], "--dry-run", "--json", "--seed", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    decision = data["decision"]
    assert decision["chosen"] == ["P-near"]
    assert [c["partner_id"] for c in decision["candidates"]] == ["P-near", "P-far"]
    assert decision["excluded"] == [
        {"partner_id": "P-at", "filter": "territory", "detail": "country DE not in territory"}
    ]
    assert data["plan"]["action"] == "offer" and data["executed"] is None
    with database.transaction() as session:
        assert OfferService(session).for_lead(ids[0]) == []


def test_given_a_lead_when_routed_then_the_offer_carries_the_decision(project: tuple) -> None:
    _, database, ids = project
    result = RUNNER.invoke(app(), ["route", ids[1], "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["executed"]["offers"] == 1
    with database.transaction() as session:
        (offer,) = OfferService(session).for_lead(ids[1])
    assert offer.partner_id == "P-near"
    assert offer.decision is not None
    best = offer.decision["candidates"][0]
    assert best["contributions"]["expected_conversion"] == pytest.approx(0.7 * 0.2)  # the priors, full reach
    assert best["factors"]["reach"] == 1.0 and offer.decision["policy_hash"]


def test_given_explain_when_printed_then_table_lists_candidates_and_exclusions(project: tuple) -> None:
    _, _, ids = project
    result = RUNNER.invoke(app(), ["route", ids[2], "--dry-run", "--explain"])
    assert result.exit_code == 0, result.output
    for text in ("P-near", "P-far", "Wien AG", "territory", "chosen: P-near", "dry run"):
        assert text in result.stdout


def test_given_an_unknown_lead_when_routed_then_clear_error(project: tuple) -> None:
    result = RUNNER.invoke(app(), ["route", "L-nope", "--dry-run"])
    assert result.exit_code == 1
    assert "lead L-nope does not exist" in result.output


def test_given_a_new_policy_when_simulated_then_shares_before_and_after(project: tuple) -> None:
    path, _, _ = project
    (path / "new.yaml").write_text(
        "version: 1\nfilters:\n  territory: false\nscoring:\n  weights: {distance: 0}\n"
    )
    result = RUNNER.invoke(
        app(), ["simulate", "--policy", str(path / "new.yaml"), "--json", "--since", "2020-01-01"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["leads"] == 3
    shares = {p["partner_id"]: (p["before"], p["after"]) for p in data["partners"]}
    assert shares["P-near"][0] == 3  # the old policy sends everything to the nearest partner
    assert sum(after for _, after in shares.values()) == 3
    assert data["no_eligible_partner"] == {"before": 0, "after": 0}
    table = RUNNER.invoke(app(), ["simulate", "--policy", str(path / "new.yaml")])
    assert "3 lead(s) replayed" in table.stdout


def test_given_a_broken_policy_when_simulated_then_the_error_names_the_key(project: tuple) -> None:
    path, _, _ = project
    (path / "bad.yaml").write_text("version: 1\nmode: assign\n")
    result = RUNNER.invoke(app(), ["simulate", "--policy", str(path / "bad.yaml")])
    assert result.exit_code == 1
    assert "mode: Extra inputs are not permitted" in result.output


def test_given_a_geonames_dump_when_imported_then_the_policy_can_use_its_centroids(project: tuple) -> None:
    path, _, _ = project
    dump = path / "AT.txt"
    dump.write_text(
        "AT\t1010\tWien Innere Stadt\tWien\t09\t\t\t\t\t48.2077\t16.3705\t4\n"
        "AT\t1020\tWien Leopoldstadt\tWien\t09\t\t\t\t\t48.2167\t16.4000\t4\n"
    )
    result = RUNNER.invoke(
        app(), ["geo", "import", str(dump), "--out", str(path / "geo" / "at.csv"), "--digits", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "2 place(s) for AT" in result.stdout
    (path / "policy.yaml").write_text("version: 1\ngeo:\n  gazetteer_files: [geo/at.csv]\n")
    # the shipped data knows 1010 exactly; the admin's 3-digit centroid serves codes it lacks
    found = RUNNER.invoke(app(), ["geo", "lookup", "AT", "1019", "--json"])
    assert (json.loads(found.stdout)["prefix"], json.loads(found.stdout)["source"]) == (
        "101",
        "postal_prefix",
    )
    exact = RUNNER.invoke(app(), ["geo", "lookup", "AT", "1010", "--json"])
    assert json.loads(exact.stdout)["source"] == "postal_code"
    missing = RUNNER.invoke(app(), ["geo", "lookup", "US", "10001"])
    assert missing.exit_code == 1 and "no gazetteer entry for US 10001" in missing.output


def test_given_routing_passes_when_policies_change_then_history_lists_revisions_and_simulate_compares_them(
    project: tuple,
) -> None:
    path, _, ids = project
    assert RUNNER.invoke(app(), ["route", ids[0], "--json"]).exit_code == 0  # records the configured policy
    first = json.loads(RUNNER.invoke(app(), ["policy", "history", "--json"]).stdout)
    assert [(r["recorded_by"], r["name"]) for r in first] == [("router", "default")]
    (path / "policy.yaml").write_text("version: 1\nname: wide\nscoring: {reach_km: 150}\n")
    recorded = RUNNER.invoke(app(), ["policy", "record", "--by", "alice", "--json"])
    assert recorded.exit_code == 0, recorded.output
    assert json.loads(recorded.stdout)["new"] is True
    again = json.loads(RUNNER.invoke(app(), ["policy", "record", "--by", "bob", "--json"]).stdout)
    assert again["new"] is False and again["recorded_by"] == "alice"  # the first sighting stays
    revisions = json.loads(RUNNER.invoke(app(), ["policy", "history", "--json"]).stdout)
    assert [r["recorded_by"] for r in revisions] == ["alice", "router"]
    old, new = revisions[1]["hash"], revisions[0]["hash"]
    compared = RUNNER.invoke(app(), ["simulate", "--policy", new[:6], "--against", old, "--json"])
    assert compared.exit_code == 0, compared.output
    data = json.loads(compared.stdout)
    assert data["policies"] == {"before": old, "after": new} and data["leads"] == 3
    shown = RUNNER.invoke(app(), ["policy", "show", new])
    assert "reach_km: 150" in shown.stdout
    missing = RUNNER.invoke(app(), ["simulate", "--policy", "abcdef"])
    assert missing.exit_code == 1 and "no policy revision abcdef" in missing.output


def test_given_history_when_tuned_then_current_and_best_conversions_and_the_yaml_to_adopt(
    project: tuple,
) -> None:
    path, database, ids = project
    for lead_id in ids[:2]:  # the near partner gets two leads, wins one and loses the other
        assert RUNNER.invoke(app(), ["route", lead_id, "--json"]).exit_code == 0
    with database.transaction() as session:
        offers = OfferService(session)
        for lead_id, kind in ((ids[0], EventKind.WIN), (ids[1], EventKind.LOSE)):
            (offer,) = offers.for_lead(lead_id)
            offers.accept(offer.id, actor="t", idempotency_key=f"a:{offer.id}")
            LeadService(session).apply(
                lead_id, kind, actor="t", idempotency_key=f"o:{lead_id}", partner_id=offer.partner_id
            )
    result = RUNNER.invoke(
        app(), ["tune", "--json", "--evaluations", "8", "--out", str(path / "tuned.yaml"), "--by", "carol"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["leads"] == 3 and data["evaluations"] <= 8
    assert data["expected_conversions"]["best"] >= data["expected_conversions"]["current"] > 0
    assert data["policy_yaml"].startswith("version: 1")
    written = (path / "tuned.yaml").read_text()
    assert data["policy_hash"] in written
    revisions = json.loads(RUNNER.invoke(app(), ["policy", "history", "--json"]).stdout)
    by_hash = {r["hash"]: r["recorded_by"] for r in revisions}
    # recorded under carol's name, unless routing had already used exactly that policy
    assert by_hash[data["policy_hash"]] == (
        "router" if data["policy_hash"] == data["current_hash"] else "carol"
    )
    table = RUNNER.invoke(app(), ["tune", "--evaluations", "3"])
    assert "policy to adopt" in table.stdout and "expected conversions: current" in table.stdout
