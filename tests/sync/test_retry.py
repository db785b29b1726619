"""The one retry policy: what it retries, how long it waits, and when it gives up."""

from __future__ import annotations

import random

import pytest

from leadbridge.core.errors import QuotaExhausted, RetriableError, SkipRecord
from leadbridge.core.retry import RetryPolicy


def a_policy(**overrides: object) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    policy = RetryPolicy(sleep=slept.append, rng=random.Random(1), **overrides)  # type: ignore[arg-type]
    return policy, slept


def flaky(failures: list[Exception], result: str = "ok"):
    calls = {"n": 0}

    def fn() -> str:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return result

    return fn, calls


def test_given_a_429_then_success_when_called_then_it_retries_once_honouring_retry_after() -> None:
    policy, slept = a_policy()
    fn, calls = flaky([RetriableError("429", retry_after=3.0)])
    assert policy.call(fn) == "ok"
    assert calls["n"] == 2
    assert slept == [3.0]


def test_given_backoff_without_retry_after_then_waits_grow_within_the_exponential_ceiling() -> None:
    policy, slept = a_policy(base=1.0, cap=100.0, max_attempts=5)
    fn, _ = flaky([RetriableError("503") for _ in range(4)])
    policy.call(fn)
    assert len(slept) == 4
    for attempt, wait in enumerate(slept, start=1):
        assert 0 <= wait <= 2 ** (attempt - 1)


def test_given_a_4xx_that_will_fail_again_then_it_is_not_retried() -> None:
    policy, slept = a_policy()
    for error in (SkipRecord("bad field"), QuotaExhausted("quota")):
        fn, calls = flaky([error])
        with pytest.raises(type(error)):
            policy.call(fn)
        assert calls["n"] == 1
    assert slept == []


def test_given_endless_failures_then_tries_are_bounded_and_the_last_error_raised() -> None:
    policy, slept = a_policy(max_attempts=3)
    fn, calls = flaky([RetriableError(f"503 #{n}") for n in range(10)])
    with pytest.raises(RetriableError, match="#2"):
        policy.call(fn)
    assert calls["n"] == 3 and len(slept) == 2


def test_given_a_total_time_budget_then_it_stops_before_a_wait_that_would_exceed_it() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    policy = RetryPolicy(max_seconds=10.0, max_attempts=10, sleep=sleep, clock=lambda: now[0])
    fn, calls = flaky([RetriableError("429", retry_after=4.0) for _ in range(10)])
    with pytest.raises(RetriableError):
        policy.call(fn)
    assert slept == [4.0, 4.0]  # a third 4 s wait would end at 12 s, past the 10 s budget
    assert calls["n"] == 3


def test_retry_after_is_capped() -> None:
    policy, _ = a_policy(cap=10.0)
    assert policy.wait_for(1, RetriableError("x", retry_after=3600)) == 10.0
