"""Fixtures of the long-haul suites: quiet logs, one virtual clock, a simulated gateway."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Iterator

import pytest
import structlog

from ibkr_session.clock import ManualClock
from ibkr_sim.gateway import SimulatedGateway

# Monday 2026-01-05 10:00 New York: markets open, hours before the nightly reset.
MARKET_OPEN = _dt.datetime(2026, 1, 5, 15, 0, tzinfo=_dt.UTC)


@pytest.fixture(autouse=True)
def quiet_logs() -> Iterator[None]:
    """Only warnings and errors: these suites send tens of thousands of requests, and
    rendering every debug event would cost more than the requests themselves."""
    previous = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=False,
    )
    try:
        yield
    finally:
        structlog.configure(**previous)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MARKET_OPEN)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[SimulatedGateway]:
    with SimulatedGateway(clock) as gateway:
        yield gateway
