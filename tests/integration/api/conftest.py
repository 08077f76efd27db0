"""The client against the simulated gateway: real HTTPS on loopback, one virtual clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_api import IbkrClient
from ibkr_session import ManualClock
from ibkr_sim import SimulatedGateway

# Monday 2026-01-05 10:00 New York: markets open, far from the nightly reset.
MARKET_OPEN = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MARKET_OPEN)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[SimulatedGateway]:
    with SimulatedGateway(clock) as gateway:
        yield gateway


@pytest.fixture
def connect(sim: SimulatedGateway, clock: ManualClock) -> Iterator[Callable[..., IbkrClient]]:
    """Make clients of ``sim`` on the shared clock; all are closed after the test."""
    made: list[IbkrClient] = []

    def make(**options: Any) -> IbkrClient:
        options.setdefault("timeout", 5.0)
        client = IbkrClient(sim.url, clock=clock, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def ibkr(connect: Callable[..., IbkrClient]) -> IbkrClient:
    return connect()
