"""Retry policies: what is retried, how long the waits are, and when they stop."""

from __future__ import annotations

import random

import pytest

from ibkr_api.retry import CANCELS, READS, RetryPolicy
from ibkr_session import (
    CompetingSessionError,
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrError,
    InvalidRequestError,
    ManualClock,
    NotAuthenticatedError,
    OrderRejectedError,
    RateLimitedError,
    ResetWindowError,
)


class Flaky:
    """A call that fails with the given errors, then answers ``"ok"``; records call times."""

    def __init__(self, clock: ManualClock, *errors: IbkrError) -> None:
        self.clock = clock
        self.errors = list(errors)
        self.times: list[float] = []

    def __call__(self) -> str:
        self.times.append(self.clock.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def unavailable() -> GatewayUnavailableError:
    return GatewayUnavailableError(503, "empty body", method="GET", path="/portfolio/accounts")


@pytest.mark.parametrize(
    "error",
    [
        GatewayUnreachableError("refused"),
        GatewayUnreachableError("read timeout", maybe_sent=True),
        GatewayUnavailableError(500, "Internal Server Error"),
        RateLimitedError(429, "Too Many Requests", retry_after=1.0),
    ],
    ids=["refused", "timeout", "5xx", "429"],
)
def test_reads_recover_from_transient_failures(error: IbkrError) -> None:
    clock = ManualClock()
    call = Flaky(clock, error)
    assert READS.run(clock, call, rng=random.Random(1)) == "ok"
    assert len(call.times) == 2


@pytest.mark.parametrize(
    "error",
    [
        ResetWindowError("reset", retry_after=300.0, resumes_at=ManualClock().now()),
        CompetingSessionError(200, "competing session"),
        NotAuthenticatedError(401, "log in at https://localhost:5000"),
        InvalidRequestError("bad conid", field="conid"),
        OrderRejectedError(200, "We cannot accept an order at the limit price"),
    ],
    ids=["reset", "competing", "unauthenticated", "invalid", "rejected"],
)
def test_errors_another_attempt_cannot_fix_are_raised_at_once(error: IbkrError) -> None:
    clock = ManualClock()
    call = Flaky(clock, error)
    with pytest.raises(type(error)):
        READS.run(clock, call)
    assert len(call.times) == 1
    assert clock.monotonic() == 0


def test_waits_grow_exponentially_with_jitter_on_the_session_clock() -> None:
    clock = ManualClock()
    policy = RetryPolicy("test", (GatewayUnavailableError,), max_attempts=5, deadline=100.0)
    call = Flaky(clock, *(unavailable() for _ in range(4)))
    assert policy.run(clock, call, rng=random.Random(7)) == "ok"
    waits = [later - earlier for earlier, later in zip(call.times, call.times[1:], strict=False)]
    for attempt, wait in enumerate(waits, start=1):
        ceiling = min(policy.max_wait, policy.initial_wait * 2 ** (attempt - 1))
        assert ceiling / 2 <= wait <= ceiling
    assert waits[-1] > waits[0]


def test_rate_limited_waits_at_least_retry_after() -> None:
    clock = ManualClock()
    call = Flaky(clock, RateLimitedError(429, "Too Many Requests", retry_after=12.0))
    assert READS.run(clock, call, rng=random.Random(3)) == "ok"
    assert call.times[1] - call.times[0] >= 12.0


def test_no_attempt_starts_past_the_deadline() -> None:
    clock = ManualClock()
    policy = RetryPolicy("test", (GatewayUnavailableError,), max_attempts=50, deadline=10.0)
    call = Flaky(clock, *(unavailable() for _ in range(50)))
    with pytest.raises(GatewayUnavailableError):
        policy.run(clock, call, rng=random.Random(5))
    assert call.times[-1] <= 10.0
    assert 2 < len(call.times) < 50


def test_a_retry_after_beyond_the_deadline_fails_at_once() -> None:
    clock = ManualClock()
    call = Flaky(clock, RateLimitedError(429, "Too Many Requests", retry_after=600.0))
    with pytest.raises(RateLimitedError):
        READS.run(clock, call)
    assert len(call.times) == 1


def test_attempts_are_bounded() -> None:
    clock = ManualClock()
    call = Flaky(clock, *(unavailable() for _ in range(10)))
    with pytest.raises(GatewayUnavailableError):
        CANCELS.run(clock, call)
    assert len(call.times) == CANCELS.max_attempts


def test_a_refused_connection_is_retried_within_half_a_second_so_a_restart_is_seen_soon() -> None:
    clock = ManualClock()
    refused = [GatewayUnreachableError("connection refused") for _ in range(4)]
    call = Flaky(clock, *refused)
    assert READS.run(clock, call, rng=random.Random(3)) == "ok"
    gaps = [later - earlier for earlier, later in zip(call.times, call.times[1:], strict=False)]
    assert len(gaps) == 4
    assert all(0.25 <= gap <= 0.5 for gap in gaps)


def test_an_answer_that_may_have_been_lost_still_backs_off_exponentially() -> None:
    clock = ManualClock()
    lost = [GatewayUnreachableError("read timeout", maybe_sent=True) for _ in range(4)]
    call = Flaky(clock, *lost)
    assert READS.run(clock, call, rng=random.Random(3)) == "ok"
    gaps = [later - earlier for earlier, later in zip(call.times, call.times[1:], strict=False)]
    assert gaps[-1] >= 2.0  # the fourth wait: 4 s ceiling, at least half of it
