"""A client of the simulated gateway (tests/conftest.py), on a clock at Monday 09:30 New York."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from ibkr_api.client import IbkrClient
from ibkr_session.clock import ManualClock
from ibkr_sim.gateway import SimulatedGateway

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MARKET_OPEN = _dt.datetime(2026, 6, 15, 13, 30, tzinfo=_dt.UTC)  # Monday 09:30 EDT


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MARKET_OPEN)


@pytest.fixture
def client(sim: SimulatedGateway, clock: ManualClock) -> Iterator[IbkrClient]:
    with IbkrClient(sim.url, clock=clock) as ibkr:
        yield ibkr


@pytest.fixture
def examples() -> Path:
    return EXAMPLES
