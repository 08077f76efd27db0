"""History: every documented period and bar, at most 1000 bars, regular hours by default."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim.history import BAR_SECONDS, MAX_POINTS
from ibkr_sim.hours import NEW_YORK
from ibkr_sim.market import Market
from ibkr_sim.refusal import HistoryError

from .conftest import AAPL, EURUSD, SPY


def _local_times(answer: dict[str, Any]) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(bar["t"] / 1000, NEW_YORK) for bar in answer["data"]]


PERIODS = ["30min", "8h", "5d", "1000d", "2w", "792w", "6m", "182m", "1y", "15y"]


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize("bar", ["1min", "30min", "4h", "1d", "1w", "1m"])
def test_every_period_class_and_bar_gives_at_most_1000_ordered_bars(
    market: Market, period: str, bar: str
) -> None:
    answer = market.history(AAPL, period, bar)
    data = answer["data"]
    assert 1 <= len(data) <= MAX_POINTS
    assert [b["t"] for b in data] == sorted({b["t"] for b in data})
    assert answer["barLength"] == BAR_SECONDS[bar]
    assert answer["timePeriod"] == period
    assert all(b["l"] <= min(b["o"], b["c"]) <= max(b["o"], b["c"]) <= b["h"] for b in data)


@pytest.mark.parametrize("bar", sorted(BAR_SECONDS))
def test_every_documented_bar_size_is_served(market: Market, bar: str) -> None:
    assert market.history(SPY, "1y", bar)["data"]


def test_long_requests_return_the_most_recent_1000_bars(market: Market) -> None:
    data = market.history(AAPL, "1000d", "1min")["data"]
    assert len(data) == MAX_POINTS
    assert data[-1]["t"] == market.history(AAPL, "30min", "1min")["data"][-1]["t"]


def test_regular_hours_only_unless_outside_rth(market: Market) -> None:
    regular = _local_times(market.history(AAPL, "5d", "30min"))
    assert all(dt.time(9, 30) <= t.time() < dt.time(16, 0) for t in regular)
    assert all(t.weekday() < 5 for t in regular)
    extended = _local_times(market.history(AAPL, "5d", "30min", outside_rth=True))
    assert any(t.time() < dt.time(9, 30) for t in extended)
    assert any(t.time() >= dt.time(16, 0) for t in extended)


def test_a_day_of_five_minute_bars_after_the_close(clock: ManualClock, market: Market) -> None:
    clock.set(dt.datetime(2026, 1, 6, 23, 0, tzinfo=dt.UTC))  # 18:00 New York
    answer = market.history(AAPL, "1d", "5min")
    assert len(answer["data"]) == 78  # 09:30-16:00
    assert answer["startTime"] == "20260106-14:30:00"
    assert answer["data"][-1]["c"] == market.price(AAPL)


def test_daily_bars_start_at_the_open_and_fx_trades_around_the_clock(market: Market) -> None:
    daily = _local_times(market.history(AAPL, "1m", "1d"))
    assert {t.time() for t in daily} == {dt.time(9, 30)}
    fx = _local_times(market.history(EURUSD, "1d", "1h"))
    assert {t.hour for t in fx} >= {17, 23, 3}


def test_the_bars_come_from_the_same_path(clock: ManualClock, market: Market) -> None:
    clock.advance(1800)
    last_bar = market.history(SPY, "30min", "1min")["data"][-1]
    assert last_bar["c"] == market.price(SPY)


@pytest.mark.parametrize(
    ("period", "bar"),
    [("31min", "1min"), ("9h", "1min"), ("1001d", "1d"), ("793w", "1w"), ("183m", "1m"),
     ("16y", "1m"), ("0d", "1d"), ("1x", "1d"), ("", "1d"), ("1d", "7min"), ("1d", "1s"),
     ("1d", "")],
)  # fmt: skip
def test_bad_period_or_bar_is_refused_with_a_message(market: Market, period: str, bar: str) -> None:
    with pytest.raises(HistoryError) as refused:
        market.history(AAPL, period, bar)
    assert refused.value.status == 400
    assert refused.value.body == {"error": refused.value.message, "statusCode": 400}
    assert (period if "period" in refused.value.message else bar) in refused.value.message


def test_unknown_conid_is_refused(market: Market) -> None:
    with pytest.raises(HistoryError, match="conid 1"):
        market.history(1, "1d", "5min")


def test_keys_and_types_match_the_recorded_history(
    market: Market, recorded: Callable[[str], dict[str, Any]]
) -> None:
    real = recorded("MarketData__GET-history")["Response"]["Body"]
    ours = market.history(SPY, "1d", "1min")
    for key, value in real.items():
        assert type(ours[key]) is type(value), key
    assert ours["data"][0].keys() == real["data"][0].keys()
    assert isinstance(ours["data"][0]["t"], int)


@pytest.mark.parametrize("local_hour", [9.6, 10.7, 13.0, 15.9, 20.0])
def test_one_day_of_15min_bars_is_a_full_session_at_any_hour(
    clock: ManualClock, market: Market, local_hour: float
) -> None:
    """The reference's recipe needs 20 closes from ``period="1d", bar="15min"``."""
    monday = dt.datetime(2026, 1, 5, tzinfo=NEW_YORK) + dt.timedelta(hours=local_hour)
    clock.set(monday)
    data = market.history(AAPL, "1d", "15min")["data"]
    assert 26 <= len(data) <= 27  # 6.5 h of trading, the oldest bar possibly cut
