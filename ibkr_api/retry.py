"""Retry policies for endpoint calls, timed on the session's clock.

Which failures are worth another attempt depends on what the call does, not on where it
fails, so there is one policy object per *kind* of call (reads, cancels, order resends)
and one engine (tenacity) that runs them all. Sleeps go through ``clock.sleep`` and the
total deadline is measured on ``clock.monotonic``, so virtual time makes retry tests
instant and exact.

A policy never retries what another attempt cannot fix: ``ResetWindowError``,
``CompetingSessionError``, ``NotAuthenticatedError``, ``InvalidRequestError`` and
``OrderRejectedError`` are not in any policy's ``retry_on``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

import tenacity

from ibkr_session.clock import Clock
from ibkr_session.core import backoff_delay
from ibkr_session.errors import (
    GatewayUnavailableError,
    GatewayUnreachableError,
    IbkrError,
    RateLimitedError,
)
from ibkr_session.logs import get_logger

__all__ = ["CANCELS", "READS", "TRANSIENT", "RetryPolicy"]

log = get_logger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How one kind of call is retried: on what, how often, how long in total.

    Waits grow exponentially from ``initial_wait`` up to ``max_wait`` with "equal jitter"
    (half fixed, half random), so a fleet of workers does not retry in lockstep; after a
    ``RateLimitedError`` the wait is at least its ``retry_after``. No attempt starts once
    its wait would end past ``deadline`` seconds after the first attempt began: the last
    error is raised instead.
    """

    name: str
    retry_on: tuple[type[BaseException], ...]
    max_attempts: int = 5
    deadline: float = 30.0
    initial_wait: float = 0.5
    max_wait: float = 8.0
    refused_wait: float = 0.5
    """Longest wait after a connection the gateway surely never received (refused, not
    resolved, not connected): knocking costs it nothing, and a short wait means the worker
    notices a restarted gateway within a second instead of sleeping through its return."""

    def with_limits(self, *, max_attempts: int, deadline: float) -> RetryPolicy:
        """The same policy with other bounds (client options ``retry_attempts`` etc.)."""
        return replace(self, max_attempts=max_attempts, deadline=deadline)

    def backoff(self, attempt: int, error: BaseException | None, rng: random.Random) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = self.max_wait
        if isinstance(error, GatewayUnreachableError) and not error.maybe_sent:
            cap = min(cap, self.refused_wait)
        wait = backoff_delay(attempt - 1, initial=self.initial_wait, cap=cap, rng=rng)
        return max(wait, _retry_after(error))

    def run(self, clock: Clock, call: Callable[[], T], *, rng: random.Random | None = None) -> T:
        """Run ``call`` until it succeeds, fails for good, or the bounds are reached.

        The first attempt runs bare: most calls succeed at once, and building the retry
        engine for them would be most of the library's own cost per call.
        """
        started = clock.monotonic()
        try:
            return call()
        except self.retry_on as error:
            first_failure = error
        return self._retry(clock, call, first_failure, started, rng or _JITTER)

    def _retry(
        self,
        clock: Clock,
        call: Callable[[], T],
        first_failure: BaseException,
        started: float,
        jitter: random.Random,
    ) -> T:
        """Attempts 2, 3, ... under tenacity, which is handed attempt 1's failure first."""
        replay: list[BaseException] = [first_failure]

        def attempt() -> T:
            if replay:
                raise replay.pop()
            return call()

        def wait(state: tenacity.RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome is not None else None
            return self.backoff(state.attempt_number, error, jitter)

        def stop(state: tenacity.RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            resumes = clock.monotonic() - started + state.upcoming_sleep
            return resumes > self.deadline

        def before_sleep(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome is not None else None
            log.info(
                "ibkr.retry",
                policy=self.name,
                attempt=state.attempt_number,
                wait=round(state.upcoming_sleep, 3),
                error=type(error).__name__,
            )

        retrying = tenacity.Retrying(
            sleep=clock.sleep,
            retry=tenacity.retry_if_exception_type(self.retry_on),
            wait=wait,
            stop=stop,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(attempt)


_JITTER = random.Random()
"""One jitter source for every policy without an injected one (seeding costs ~10 µs)."""


def _retry_after(error: BaseException | None) -> float:
    """The quiet time a 429 asked for, also when it is the cause of a wrapping error."""
    while error is not None:
        if isinstance(error, RateLimitedError):
            return error.retry_after
        error = error.__cause__
    return 0.0


TRANSIENT: tuple[type[IbkrError], ...] = (
    GatewayUnreachableError,
    GatewayUnavailableError,
    RateLimitedError,
)
"""Failures another attempt may cure; whether one is safe depends on the call."""

READS = RetryPolicy("read", TRANSIENT)
"""Reads and tickles: resending a read is harmless, so every transient failure retries.

A 429 whose quiet time outlasts the deadline (the default 60 s when the gateway sends no
``Retry-After``) is raised at once: IBKR's penalty box lasts minutes, and knocking on it
again risks a permanent block."""

CANCELS = RetryPolicy("cancel", TRANSIENT, max_attempts=3)
"""Cancels: cancelling an order twice is harmless (the second one is a no-op)."""
