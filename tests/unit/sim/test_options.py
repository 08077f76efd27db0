"""Option chains: listed months, strikes around the price, conids that decode."""

from __future__ import annotations

import pytest

from ibkr_sim.instruments import find_instrument
from ibkr_sim.market import Market
from ibkr_sim.options import OptionKey, option_conid, option_key, strike_grid
from ibkr_sim.refusal import Refusal

from .conftest import AAPL, AAPL_CALL, ES, SPY


def test_strikes_need_a_search_of_the_underlying_first(market: Market) -> None:
    assert market.strikes(AAPL, "OPT", "FEB26") == {"call": [], "put": []}
    market.search("AAPL")
    strikes = market.strikes(AAPL, "OPT", "FEB26")
    price = market.price(AAPL)
    assert strikes["call"] == strikes["put"]
    assert len(strikes["call"]) == 41
    assert min(strikes["call"]) < price < max(strikes["call"])
    assert {s % 2.5 for s in strikes["call"]} == {0.0}  # a 230 stock lists every 2.50


def test_unlisted_months_and_non_options_have_no_strikes(market: Market) -> None:
    market.search("AAPL")
    market.search("ES", "FUT")
    assert market.strikes(AAPL, "OPT", "JAN25") == {"call": [], "put": []}  # expired
    assert market.strikes(AAPL, "OPT", "DEC29") == {"call": [], "put": []}  # not listed
    assert market.strikes(ES, "OPT", "FEB26") == {"call": [], "put": []}


def test_a_chain_contract_is_tradable_like_any_other(market: Market) -> None:
    market.search("SPY")
    strike = market.strikes(SPY, "OPT", "MAR26")["put"][20]
    (put,) = market.secdef_info(SPY, "OPT", "MAR26", strike, "P")
    assert (put["secType"], put["right"], put["strike"], put["maturityDate"]) == (
        "OPT", "P", strike, "20260320",
    )  # fmt: skip
    instrument = find_instrument(put["conid"])
    assert instrument is not None
    assert (instrument.underlying_conid, instrument.multiplier) == (SPY, 100.0)
    assert market.price(put["conid"]) > 0
    market.snapshot_fields(put["conid"], ["31"])  # pre-flight
    assert "31" in market.snapshot_fields(put["conid"], ["31"])


def test_both_rights_unless_one_is_asked_and_strike_is_required(market: Market) -> None:
    strike = strike_grid(market.price(AAPL))[20]
    rows = market.secdef_info(AAPL, "OPT", "FEB26", strike)
    assert [row["right"] for row in rows] == ["C", "P"]
    assert rows[0]["conid"] != rows[1]["conid"]
    assert market.secdef_info(AAPL, "OPT", "FEB26", strike + 0.3) == []  # off the grid
    with pytest.raises(Refusal):
        market.secdef_info(AAPL, "OPT", "FEB26")


def test_conids_encode_the_contract_and_the_hand_made_option_keeps_its_own() -> None:
    key = OptionKey(AAPL, 2027, 1, 232.5, "P")
    assert option_key(option_conid(key)) == key
    assert option_conid(key) < 2**31  # IBKR's conids are 32-bit
    assert option_conid(OptionKey(AAPL, 2026, 12, 250.0, "C")) == AAPL_CALL
    assert option_key(AAPL) is None
