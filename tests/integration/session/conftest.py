"""A simulated gateway on loopback HTTPS, sharing a virtual clock with the manager."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from ibkr_session import ManualClock, SessionManager
from ibkr_sim import SimulatedGateway

# Monday 2026-01-05 10:00 New York: far from the nightly reset.
MORNING = dt.datetime(2026, 1, 5, 15, 0, tzinfo=dt.UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


@pytest.fixture
def sim(clock: ManualClock) -> Iterator[SimulatedGateway]:
    with SimulatedGateway(clock) as gateway:
        yield gateway


@pytest.fixture
def connect(sim: SimulatedGateway, clock: ManualClock) -> Iterator[Callable[..., SessionManager]]:
    made: list[SessionManager] = []

    def make(**options: Any) -> SessionManager:
        options.setdefault("account_id", "U1234567")
        options.setdefault("timeout", 5.0)
        manager = SessionManager(sim.url, clock=clock, **options)
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()
