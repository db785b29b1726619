"""Liveness in embedded mode (SQLite, the in-process scheduler): whatever people do, through
whichever entry point, no lead stalls — and that holds with every after-commit kick lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from leadbridge.core.store.database import Database
from leadbridge.jobs.embedded import EmbeddedScheduler
from leadbridge.jobs.schedule import schedule
from leadbridge.sync import kicks, reconcile
from leadbridge.sync.dispatch import NullDispatcher
from tests.liveness.harness import Pipeline, a_pipeline, wait_until
from tests.liveness.moves import apply, check_liveness, quiet, script

TICK_S = 0.5  # the reconcile loop's interval here (production: 10 s)


@pytest.fixture(scope="module", params=["kicks", "reconcile only"])
def pipeline(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    directory = tmp_path_factory.mktemp("liveness")
    url = f"sqlite:///{directory / 'leadbridge.db'}"
    Database(url).upgrade()
    patch = pytest.MonkeyPatch()
    patch.setattr(reconcile, "ROUTE_GRACE", reconcile.ROUTE_GRACE / 10)  # a kick is lost in 0.5 s here
    with a_pipeline(url, directory) as found:
        if request.param == "reconcile only":
            kicks.attach(found.rt.db, NullDispatcher())  # every kick is lost; only the loop's ticks remain
        scheduler = EmbeddedScheduler(found.rt, workers=2, entries=schedule(found.settings, every_s=TICK_S))
        scheduler.start()
        try:
            yield found
        finally:
            scheduler.stop(10)
            patch.undo()


def new_leads(p: Pipeline, home: int, webhook: int) -> list[str]:
    external = p.new_home_leads(home) + [p.new_webhook_lead() for _ in range(webhook)]
    assert wait_until(lambda: len(p.lead_ids(external)) == len(external), 30), "leads never came in"
    ids = list(p.lead_ids(external).values())
    assert wait_until(lambda: not p.stalled(ids), 30), p.stalled(ids)
    return ids


@settings(
    max_examples=4,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each example takes seconds
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(scripts=st.lists(script, min_size=2, max_size=3), webhook=st.booleans())
def test_given_any_sequence_of_actions_through_any_entry_point_then_no_lead_stalls(
    pipeline: Pipeline, scripts: list[list[tuple[str, int]]], webhook: bool
) -> None:
    leads = new_leads(pipeline, len(scripts) - int(webhook), int(webhook))
    log: list[str] = []
    for step in range(max(len(s) for s in scripts)):
        for lead_id, moves in zip(leads, scripts, strict=True):
            if step < len(moves):
                before = pipeline.state(lead_id)
                log.append(f"{lead_id}@{before}: {moves[step]} -> {apply(pipeline, lead_id, *moves[step])}")
                quiet(pipeline, lead_id, before)
    check_liveness(pipeline, leads, log)


def test_declines_and_returns_through_the_inbox_and_api_route_the_lead_again_on_their_own(
    pipeline: Pipeline,
) -> None:
    """The issue's first bug, as a channel manager saw it: no partner CRM, no CLI, nothing else."""
    (lead_id,) = new_leads(pipeline, 1, 0)
    seen: list[str] = []
    for channel in ("inbox", "api", "inbox"):
        assert wait_until(lambda: pipeline.pending_offer(lead_id) is not None, 30), pipeline.state(lead_id)
        offer_id, partner_id = pipeline.pending_offer(lead_id)  # type: ignore[misc]
        if pipeline.channel_of(partner_id) == "crm":
            assert pipeline.crm_status(lead_id, "Declined") or wait_until(
                lambda: pipeline.crm_status(lead_id, "Declined"), 15
            )
        elif channel == "api":
            assert pipeline.api_offer(offer_id, partner_id, "decline") == 200
        else:
            assert pipeline.inbox_offer(offer_id, partner_id, "decline") == 303
        seen.append(partner_id)
        declined = (offer_id, partner_id)
        moved_on = wait_until(lambda: pipeline.pending_offer(lead_id) not in (None, declined), 30)  # noqa: B023
        assert moved_on or pipeline.state(lead_id) == "direct", pipeline.state(lead_id)
        if pipeline.state(lead_id) != "offered":
            break
    assert pipeline.state(lead_id) in ("offered", "direct"), pipeline.state(lead_id)
    assert not pipeline.stalled([lead_id])
