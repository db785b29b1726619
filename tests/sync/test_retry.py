"""The one retry policy: what it retries, how long it waits, when it gives up, and that it never nests."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from leadbridge.core.errors import QuotaExhausted, RetriableError, SkipRecord
from leadbridge.core.retry import RetryPolicy, inside_policy, parse_retry_after
from leadbridge.sync.outbox import OutboxSettings


class FakeClock:
    """Time that moves only when the policy sleeps (the sleep records the wait and moves it)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def a_policy(**overrides: object) -> tuple[RetryPolicy, FakeClock]:
    clock = FakeClock()
    options: dict[str, object] = {"sleep": clock.sleep, "clock": clock, "rng": random.Random(1)}
    return RetryPolicy(**{**options, **overrides}), clock  # type: ignore[arg-type]


def flaky(failures: list[Exception], result: str = "ok"):  # type: ignore[no-untyped-def]
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_given_a_429_then_success_when_called_then_it_retries_once_no_sooner_than_retry_after() -> None:
    policy, clock = a_policy()
    fn, calls = flaky([RetriableError("429", retry_after=3.0)])
    assert policy.call(fn) == "ok"
    assert calls["n"] == 2
    [wait] = clock.slept
    assert 3.0 <= wait <= 3.0 + policy.base  # honoured, plus a spread so clients do not stampede


def test_given_backoff_without_retry_after_then_waits_stay_within_the_exponential_ceiling() -> None:
    policy, clock = a_policy(base=1.0, cap=100.0, max_attempts=5, max_seconds=1000.0)
    fn, _ = flaky([RetriableError("503") for _ in range(4)])
    policy.call(fn)
    assert len(clock.slept) == 4
    for attempt, wait in enumerate(clock.slept, start=1):
        assert 0 <= wait <= 2 ** (attempt - 1)


def test_given_policies_built_without_a_seed_then_their_jitter_differs() -> None:
    # The old default was random.Random(0): every process backed off at the same instants.
    first = [RetryPolicy().wait_for(4) for _ in range(5)]
    second = [RetryPolicy().wait_for(4) for _ in range(5)]
    assert first != second
    assert len(set(first)) == 5  # and it varies within one policy too
    seeded = [RetryPolicy(rng=random.Random(9)).wait_for(4) for _ in range(2)]
    assert seeded[0] == seeded[1]  # tests can still replay a schedule


def test_given_a_4xx_that_will_fail_again_then_it_is_not_retried() -> None:
    policy, clock = a_policy()
    for error in (SkipRecord("bad field"), QuotaExhausted("quota")):
        fn, calls = flaky([error])
        with pytest.raises(type(error)):
            policy.call(fn)
        assert calls["n"] == 1
    assert clock.slept == []


def test_given_endless_failures_then_tries_are_bounded_and_the_last_error_raised() -> None:
    policy, clock = a_policy(max_attempts=3)
    fn, calls = flaky([RetriableError(f"503 #{n}") for n in range(10)])
    with pytest.raises(RetriableError, match="#2"):
        policy.call(fn)
    assert calls["n"] == 3 and len(clock.slept) == 2


def test_given_a_time_budget_and_an_injected_clock_then_it_stops_before_a_wait_past_the_budget() -> None:
    policy, clock = a_policy(max_seconds=10.0, max_attempts=100, base=0.0)
    fn, calls = flaky([RetriableError("429", retry_after=4.0) for _ in range(100)])
    with pytest.raises(RetriableError):
        policy.call(fn)
    assert clock.slept == [4.0, 4.0]  # a third 4 s wait would end at 12 s, past the 10 s budget
    assert calls["n"] == 3


def test_given_a_no_op_sleep_then_the_budget_still_stops_on_the_injected_clock() -> None:
    # tenacity's stop_before_delay reads the wall clock: with a no-op sleep it would never fire.
    ticks = iter(range(0, 10_000, 7))  # each look at the clock is 7 s later: calls are slow
    policy = RetryPolicy(
        max_attempts=1000, max_seconds=30.0, sleep=lambda _s: None, clock=lambda: float(next(ticks))
    )
    fn, calls = flaky([RetriableError("503") for _ in range(1000)])
    with pytest.raises(RetriableError):
        policy.call(fn)
    assert calls["n"] < 10


def test_given_a_retry_after_longer_than_the_budget_then_it_raises_at_once_keeping_retry_after() -> None:
    policy, clock = a_policy(max_seconds=60.0)
    fn, calls = flaky([RetriableError("429", retry_after=3600.0)])
    with pytest.raises(RetriableError) as raised:
        policy.call(fn)
    assert calls["n"] == 1 and clock.slept == []  # no worker sleeps for an hour
    assert raised.value.retry_after == 3600.0  # never capped: the outbox row waits the full hour


def test_given_a_call_inside_another_policy_then_the_inner_one_runs_once() -> None:
    outer, outer_clock = a_policy(max_attempts=3)
    inner, inner_clock = a_policy(max_attempts=5)
    inner_calls = {"n": 0}
    seen_inside: list[bool] = []

    def login() -> str:
        inner_calls["n"] += 1
        seen_inside.append(inside_policy())
        raise RetriableError("503 at login")

    def query() -> str:
        return inner.call(login, what="login")  # e.g. a login made lazily inside a query

    with pytest.raises(RetriableError, match="login"):
        outer.call(query, what="query")
    assert inner_calls["n"] == 3  # 3 outer tries × 1, not 3 × 5
    assert inner_clock.slept == [] and len(outer_clock.slept) == 2
    assert seen_inside == [True, True, True] and not inside_policy()


def test_given_a_policy_on_its_own_after_a_nested_run_then_it_retries_again() -> None:
    outer, _ = a_policy(max_attempts=2)
    inner, _ = a_policy(max_attempts=3)
    with pytest.raises(RetriableError):
        outer.call(lambda: inner.call(flaky([RetriableError("x")] * 9)[0]))
    fn, calls = flaky([RetriableError("503"), RetriableError("503")])
    assert inner.call(fn) == "ok" and calls["n"] == 3  # the flag was reset


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("1.5", 1.5), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_in_seconds(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2026, 12, 7, 18, 0, 0, tzinfo=UTC)
    in_90_s = format_datetime(now + timedelta(seconds=90), usegmt=True)  # "Mon, 07 Dec 2026 18:01:30 GMT"
    assert parse_retry_after(in_90_s, now=now) == 90.0
    assert parse_retry_after("Mon, 07 Dec 2026 17:59:00 GMT", now=now) == 0.0  # in the past: now
    assert parse_retry_after("Monday, 07-Dec-26 18:00:30 GMT", now=now) == 30.0  # obsolete RFC 850


def test_the_outbox_schedules_rows_with_the_same_formula() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    backoff = RetryPolicy(base=30.0, cap=3600.0, rng=random.Random(4))
    same = RetryPolicy(base=30.0, cap=3600.0, rng=random.Random(4))
    settings = OutboxSettings(backoff=backoff)
    for attempts in (1, 2, 3):
        due = settings.next_attempt(now, attempts)
        assert due == now + timedelta(seconds=same.wait_for(attempts))
    long_wait = settings.next_attempt(now, 1, RetriableError("429", retry_after=7200.0))
    assert timedelta(seconds=7200) <= long_wait - now <= timedelta(seconds=7230)  # never capped
