"""The embedded scheduler: periodic entries, immediate kicks, de-duplication, lease waits, no retries."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from leadbridge.core.errors import ConfigError, RetriableError
from leadbridge.core.intake import take_in
from leadbridge.core.settings import Settings
from leadbridge.core.store.tables import LeadRow
from leadbridge.jobs import runner
from leadbridge.jobs.background import start_background
from leadbridge.jobs.embedded import EmbeddedScheduler, running_scheduler
from leadbridge.jobs.schedule import RECONCILE_S, Entry
from leadbridge.runtime import Runtime, build_runtime
from leadbridge.sync import steps
from leadbridge.sync.steps import Followup, JobContext, Step
from leadbridge.sync.work import step_table
from tests.builders import a_lead


class Calls:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[tuple[str, tuple[str, ...]]] = []
        self.steps: dict[str, Step] = {}

    def add(self, step: str, *args: str) -> None:
        with self.lock:
            self.items.append((step, args))

    def of(self, step: str) -> list[tuple[str, ...]]:
        with self.lock:
            return [args for name, args in self.items if name == step]


@pytest.fixture
def calls() -> Calls:
    found = Calls()
    names = ["t_tick", "t_route", "t_deliver", "t_flaky", "t_broken", "t_slow"]
    failures = {"t_flaky": 2}

    def make(name: str):  # type: ignore[no-untyped-def]
        def step(ctx: JobContext, *args: str) -> list[Followup]:
            found.add(name, *args)
            if name == "t_route":
                return [Followup("t_deliver", args)]
            if name == "t_flaky" and failures["t_flaky"] > 0:
                failures["t_flaky"] -= 1
                raise steps.Busy("another worker holds the lease", retry_after=0.01)
            if name == "t_broken":
                raise ConfigError("bad mapping")
            if name == "t_slow":
                time.sleep(0.3)
            return []

        return step

    found.steps = {name: make(name) for name in names}
    return found


def wait_for(predicate, timeout: float = 5.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def runtime_with(settings: Settings, calls: Calls, **extra: Step) -> Runtime:
    """A runtime whose step table also has the test steps (only this runtime sees them)."""
    return build_runtime(settings, steps=step_table().replace(**calls.steps, **extra))


@pytest.fixture
def test_rt(settings: Settings, calls: Calls) -> Runtime:
    return runtime_with(settings, calls)


@pytest.fixture
def scheduler(test_rt: Runtime) -> Iterator[EmbeddedScheduler]:
    sched = EmbeddedScheduler(test_rt, workers=2, entries=[Entry("tick", "t_tick", ("x",), 0.2)])
    yield sched
    sched.stop(timeout=5)


def test_given_a_schedule_entry_then_it_runs_at_start_and_again_every_interval(
    scheduler: EmbeddedScheduler, calls: Calls
) -> None:
    scheduler.start()
    assert wait_for(lambda: len(calls.of("t_tick")) >= 3, timeout=3)
    assert calls.of("t_tick")[0] == ("x",)


def test_given_a_running_scheduler_when_a_kick_is_sent_then_the_step_and_its_followups_run_at_once(
    test_rt: Runtime, scheduler: EmbeddedScheduler, calls: Calls
) -> None:
    scheduler.start()
    assert test_rt.dispatcher.target is scheduler and running_scheduler(test_rt) is scheduler
    started = time.monotonic()
    test_rt.dispatcher.send("t_route", ("L-1",))
    assert wait_for(lambda: calls.of("t_deliver") == [("L-1",)])
    assert time.monotonic() - started < 1.0


def test_given_the_same_work_waiting_when_it_is_sent_again_then_it_runs_once(
    test_rt: Runtime, calls: Calls
) -> None:
    sched = EmbeddedScheduler(test_rt, workers=1, entries=[])
    sched.start()
    try:
        test_rt.dispatcher.send("t_slow", ("a",))  # occupies the only worker
        assert wait_for(lambda: calls.of("t_slow") == [("a",)])
        for _ in range(5):
            test_rt.dispatcher.send("t_route", ("L-2",))
        assert sched.wait_idle(5)
        assert calls.of("t_route") == [("L-2",)]
    finally:
        sched.stop(5)


def test_given_a_busy_lease_then_the_step_runs_again_after_its_retry_after_until_it_gets_it(
    scheduler: EmbeddedScheduler, calls: Calls
) -> None:
    scheduler.start()
    scheduler.send("t_flaky", ("c",))
    assert wait_for(lambda: len(calls.of("t_flaky")) == 3)
    assert scheduler.wait_idle(5)
    assert len(calls.of("t_flaky")) == 3


def test_given_a_lease_that_stays_busy_then_waits_are_bounded(settings: Settings, calls: Calls) -> None:
    def always(ctx: JobContext, *args: str) -> None:
        calls.add("t_always", *args)
        raise steps.Busy("held", retry_after=0.01)

    scheduler = EmbeddedScheduler(runtime_with(settings, calls, t_always=always), entries=[])
    scheduler.start()
    try:
        scheduler.send("t_always", ())
        assert wait_for(lambda: len(calls.of("t_always")) >= runner.MAX_BUSY_WAITS + 1)
        assert scheduler.wait_idle(5)
        assert len(calls.of("t_always")) == runner.MAX_BUSY_WAITS + 1
    finally:
        scheduler.stop(5)


def test_given_a_retriable_failure_then_it_is_not_retried_in_memory_but_runs_when_sent_again(
    settings: Settings, calls: Calls
) -> None:
    # The remote calls were retried under the one policy already; the work is still due in the
    # database, and the reconcile loop sends it again: a second, in-memory schedule would only add load.
    def transient(ctx: JobContext, *args: str) -> None:
        calls.add("t_transient", *args)
        raise RetriableError("503", retry_after=0.01)

    scheduler = EmbeddedScheduler(runtime_with(settings, calls, t_transient=transient), entries=[])
    scheduler.start()
    try:
        scheduler.send("t_transient", ())
        assert wait_for(lambda: len(calls.of("t_transient")) == 1)
        assert scheduler.wait_idle(5)
        time.sleep(0.2)
        assert len(calls.of("t_transient")) == 1
        scheduler.send("t_transient", ())  # what the reconcile loop does while the work is due
        assert wait_for(lambda: len(calls.of("t_transient")) == 2)
        assert scheduler.alive
    finally:
        scheduler.stop(5)


def test_given_a_non_retriable_error_then_the_step_is_not_retried_and_the_scheduler_lives_on(
    scheduler: EmbeddedScheduler, calls: Calls
) -> None:
    scheduler.start()
    scheduler.send("t_broken", ())
    assert wait_for(lambda: len(calls.of("t_broken")) == 1)
    assert scheduler.wait_idle(5)
    time.sleep(0.1)
    assert len(calls.of("t_broken")) == 1
    assert scheduler.alive


def test_given_an_unwired_step_then_it_is_reported_not_run(
    test_rt: Runtime, scheduler: EmbeddedScheduler
) -> None:
    with pytest.raises(steps.StepNotWired, match="not_a_step"):
        test_rt.steps.resolve("not_a_step")
    scheduler.start()
    scheduler.send("not_a_step", ())
    assert scheduler.wait_idle(5)
    assert scheduler.alive


def test_when_stopped_then_the_previous_dispatcher_is_back(
    test_rt: Runtime, scheduler: EmbeddedScheduler
) -> None:
    before = test_rt.dispatcher.target
    scheduler.start()
    scheduler.stop(5)
    assert test_rt.dispatcher.target is before
    assert not scheduler.alive
    assert running_scheduler(test_rt) is None


def test_given_embedded_mode_when_a_lead_is_taken_in_then_its_kick_routes_it_before_the_next_sweep(
    settings: Settings,
) -> None:
    routed: dict[str, float] = {}

    def route(ctx: JobContext, which: str) -> list[Followup]:
        with ctx.database.transaction() as session:  # the step sees the committed lead
            for row in session.execute(select(LeadRow).where(LeadRow.state == "qualified")).scalars():
                routed[row.id] = time.monotonic()
        return []

    rt = build_runtime(settings, steps=step_table().replace(**{steps.ROUTE_LEAD: route}))
    stop = start_background(rt)
    try:
        lead = a_lead()
        started = time.monotonic()
        with rt.db.transaction() as session:
            take_in(session, lead)
        assert wait_for(lambda: lead.id in routed, timeout=5)
        # The kick, not the sweep: the reconcile loop's next tick is RECONCILE_S (10 s) away, so a
        # route within half of that came from the after-commit kick (margin for a loaded machine).
        assert 0 <= routed[lead.id] - started < RECONCILE_S / 2
    finally:
        stop()
