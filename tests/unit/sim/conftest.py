"""A market and a broker on virtual time, opened at 10:00 New York on a Tuesday."""

from __future__ import annotations

import datetime as dt

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim.book import Broker
from ibkr_sim.market import Market

TUESDAY_10_NY = dt.datetime(2026, 1, 6, 15, 0, tzinfo=dt.UTC)
ACCOUNT = "U1234567"
AAPL, IBM, SPY, EURUSD, AAPL_CALL, ES = 265598, 8314, 756733, 12087792, 766914123, 649180695


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(TUESDAY_10_NY)


@pytest.fixture
def market(clock: ManualClock) -> Market:
    return Market(clock, seed=7)


@pytest.fixture
def broker(clock: ManualClock, market: Market) -> Broker:
    return Broker(clock, market, accounts=(ACCOUNT, "U7654321"), cash=1_000_000.0)
