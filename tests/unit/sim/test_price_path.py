"""The price path is a pure function of seed and clock time, and trades only in session."""

from __future__ import annotations

import datetime as dt

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim.market import Market

from .conftest import AAPL, ES, EURUSD, SPY, TUESDAY_10_NY


def _price_at(seed: int, when: dt.datetime, conid: int = AAPL) -> float:
    return Market(ManualClock(when), seed=seed).price(conid)


def test_same_seed_and_time_give_the_same_price() -> None:
    assert _price_at(3, TUESDAY_10_NY) == _price_at(3, TUESDAY_10_NY)


def test_another_seed_gives_another_path() -> None:
    moments = [TUESDAY_10_NY + dt.timedelta(minutes=15 * k) for k in range(8)]
    assert [_price_at(1, t) for t in moments] != [_price_at(2, t) for t in moments]


def test_time_travel_moves_prices_and_coming_back_restores_them(
    clock: ManualClock, market: Market
) -> None:
    before = market.price(SPY)
    clock.advance(3 * 3600)
    later = market.price(SPY)
    clock.set(TUESDAY_10_NY)
    assert later != before
    assert market.price(SPY) == before


def test_stocks_freeze_at_the_close_and_resume_at_the_open(
    clock: ManualClock, market: Market
) -> None:
    clock.set(dt.datetime(2026, 1, 6, 21, 0, tzinfo=dt.UTC))  # 16:00 New York
    close = market.price(AAPL)
    for hours in (1, 3, 9):  # evening, night, early morning
        clock.set(dt.datetime(2026, 1, 6, 21, 0, tzinfo=dt.UTC) + dt.timedelta(hours=hours))
        assert not market.is_trading(AAPL)
        assert market.price(AAPL) == close
    clock.set(dt.datetime(2026, 1, 7, 14, 45, tzinfo=dt.UTC))  # 09:45 New York
    assert market.is_trading(AAPL)
    assert market.price(AAPL) != close


def test_fx_trades_overnight_but_not_on_saturday(clock: ManualClock, market: Market) -> None:
    clock.set(dt.datetime(2026, 1, 7, 3, 0, tzinfo=dt.UTC))  # 22:00 New York
    assert market.is_trading(EURUSD)
    assert not market.is_trading(AAPL)
    clock.set(dt.datetime(2026, 1, 10, 15, 0, tzinfo=dt.UTC))  # Saturday
    assert not market.is_trading(EURUSD)
    assert not market.is_trading(ES)


def test_set_price_is_where_the_path_continues_from(clock: ManualClock, market: Market) -> None:
    history_before = market.history(AAPL, "1d", "5min")["data"]
    market.set_price(AAPL, 100.0)
    assert market.price(AAPL) == 100.0
    clock.advance(600)
    assert market.price(AAPL) == pytest.approx(100.0, rel=0.03)
    bars_before_override = history_before[:-1]  # the last bar ends at the override
    after = {bar["t"]: bar for bar in market.history(AAPL, "1d", "5min")["data"]}
    assert all(after[bar["t"]] == bar for bar in bars_before_override if bar["t"] in after)
    assert sum(bar["t"] in after for bar in bars_before_override) > 60
    last = max(after)
    assert after[last]["c"] == pytest.approx(100.0, rel=0.03)


def test_prices_keep_to_the_tick(clock: ManualClock, market: Market) -> None:
    for minute in range(0, 600, 37):
        clock.set(TUESDAY_10_NY + dt.timedelta(minutes=minute))
        assert round(market.price(ES) / 0.25, 9) % 1 == 0
        assert round(market.price(EURUSD) / 0.00005, 6) % 1 == 0


def test_set_price_refuses_non_positive_prices(market: Market) -> None:
    with pytest.raises(ValueError, match="positive"):
        market.set_price(AAPL, 0.0)
