"""Snapshots: the per-session pre-flight and IBKR's string formats."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest

from ibkr_session.clock import ManualClock
from ibkr_sim.formatting import format_change, format_percent, format_size, format_volume
from ibkr_sim.market import Market

from .conftest import AAPL, AAPL_CALL, ES, EURUSD, SPY

ALL_FIELDS = [
    "31", "55", "70", "71", "82", "83", "84", "85", "86", "87", "88",
    "6509", "7059", "7295", "7296", "7741", "7762",
]  # fmt: skip


def _subscribed(market: Market, conid: int) -> dict[str, object]:
    market.snapshot_fields(conid, ALL_FIELDS)  # the pre-flight
    return market.snapshot_fields(conid, ALL_FIELDS)


def test_first_snapshot_per_session_is_a_preflight(market: Market) -> None:
    assert market.snapshot_fields(AAPL, ["31", "84"]) == {"conid": AAPL, "conidEx": str(AAPL)}
    second = market.snapshot_fields(AAPL, ["31", "84"])
    assert {"31", "84", "_updated", "server_id"} <= second.keys()


def test_reset_subscriptions_repeats_the_preflight(market: Market) -> None:
    _subscribed(market, AAPL)
    assert market.has_market_data(AAPL)
    market.reset_subscriptions()
    assert not market.has_market_data(AAPL)
    assert "31" not in market.snapshot_fields(AAPL, ["31"])
    assert "31" in market.snapshot_fields(AAPL, ["31"])


def test_unknown_conid_never_gets_fields(market: Market) -> None:
    for _ in range(3):
        assert market.snapshot_fields(1, ["31"]) == {"conid": 1, "conidEx": "1"}


@pytest.mark.parametrize("conid", [AAPL, SPY, EURUSD, AAPL_CALL, ES])
def test_every_value_is_a_string_and_the_envelope_has_json_types(
    market: Market, conid: int
) -> None:
    row = _subscribed(market, conid)
    assert isinstance(row.pop("conid"), int)
    assert row.pop("conidEx") == str(conid)
    assert isinstance(row.pop("_updated"), int)
    assert isinstance(row.pop("server_id"), str)
    assert set(row) == set(ALL_FIELDS)
    assert all(isinstance(value, str) for value in row.values())


def test_quote_fields_are_consistent_during_the_session(market: Market) -> None:
    row = _subscribed(market, AAPL)
    last, bid, ask = (float(str(row[tag])) for tag in ("31", "84", "86"))
    assert bid < last < ask
    assert float(str(row["71"])) <= last <= float(str(row["70"]))
    assert row["6509"] == "RpB"
    assert row["55"] == "AAPL"
    change = float(str(row["82"]))
    assert change == pytest.approx(last - float(str(row["7741"])), abs=0.011)
    assert str(row["83"]).endswith("%")


def test_sizes_use_thousands_separators_and_volume_a_suffix(market: Market) -> None:
    row = _subscribed(market, EURUSD)  # FX sizes come in hundreds of thousands
    assert re.fullmatch(r"\d{1,3}(,\d{3})+", str(row["88"]))
    assert re.fullmatch(r"\d+(\.\d+)?[KMB]", str(row["87"]))
    assert str(row["7762"]).isdigit()


def test_last_has_a_c_prefix_outside_trading_hours(clock: ManualClock, market: Market) -> None:
    _subscribed(market, AAPL)
    clock.set(dt.datetime(2026, 1, 7, 1, 0, tzinfo=dt.UTC))  # 20:00 New York
    row = market.snapshot_fields(AAPL, ["31", "7296"])
    assert row["31"] == f"C{row['7296']}"
    with pytest.raises(ValueError, match="could not convert"):
        float(str(row["31"]))  # the trap clients must handle


def test_volume_grows_through_the_day(clock: ManualClock, market: Market) -> None:
    _subscribed(market, SPY)
    volumes = []
    for _ in range(5):
        volumes.append(int(str(market.snapshot_fields(SPY, ["7762"])["7762"])))
        clock.advance(3600)
    assert volumes == sorted(volumes)
    assert volumes[0] < volumes[-1]


@pytest.mark.parametrize(
    ("volume", "text"),
    [(0, "0"), (999, "999"), (1_000, "1.00K"), (12_345, "12.3K"), (123_456, "123K"),
     (999_960, "1.00M"), (50_000_000, "50.0M"), (2.3e9, "2.30B")],
)  # fmt: skip
def test_volume_format(volume: float, text: str) -> None:
    assert format_volume(volume) == text


def test_size_change_and_percent_formats() -> None:
    assert format_size(1300) == "1,300"
    assert format_size(600) == "600"
    assert format_change(3.5, 2) == "3.50"
    assert format_change(-1.2, 2) == "-1.20"
    assert format_change(-0.001, 2) == "0.00"
    assert format_percent(0.0054) == "0.54%"


def test_keys_and_types_match_the_recorded_snapshot(
    market: Market, recorded: Callable[[str], dict[str, Any]]
) -> None:
    real = recorded("MarketData__GET-snapshot")["Response"]["Body"][0]
    fields = [key for key in real if key.isdigit()]
    ours = _subscribed(market, SPY) | market.snapshot_fields(SPY, fields)
    for key, value in real.items():
        assert type(ours[key]) is type(value), key
