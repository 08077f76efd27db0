"""Contract search and info: recorded shapes, every simulated contract reachable."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ibkr_sim.market import Market

from .conftest import AAPL, AAPL_CALL, ES, EURUSD, IBM, SPY


@pytest.mark.parametrize(
    ("symbol", "sec_type", "conid"),
    [("AAPL", "STK", AAPL), ("ibm", None, IBM), ("SPY", "STK", SPY), ("QQQ", None, 320227571),
     ("MSFT", "STK", 272093), ("EUR", "CASH", EURUSD), ("EUR.USD", None, EURUSD),
     ("AAPL", "OPT", AAPL_CALL), ("ES", "FUT", ES)],
)  # fmt: skip
def test_search_finds_each_contract_with_its_conid_as_a_string(
    market: Market, symbol: str, sec_type: str | None, conid: int
) -> None:
    found = market.search(symbol, sec_type)
    assert [entry["conid"] for entry in found] == [str(conid)]


def test_search_by_name_and_misses(market: Market) -> None:
    assert [e["symbol"] for e in market.search("apple", name=True)] == ["AAPL"]
    assert market.search("NOPE") == []
    assert market.search("AAPL", "FUT") == []
    assert market.search("  ") == []


def test_a_stock_entry_advertises_its_option_months(market: Market) -> None:
    sections = market.search("AAPL")[0]["sections"]
    assert sections[0] == {"secType": "STK"}
    (options,) = [section for section in sections if section["secType"] == "OPT"]
    assert options["exchange"] == "SMART;AMEX;CBOE"
    # the listed chain (six months from January 2026) and the hand-made DEC26 option
    assert options["months"] == "JAN26;FEB26;MAR26;APR26;MAY26;JUN26;DEC26"


def test_search_entry_matches_the_recording(
    market: Market, recorded: Callable[[str], dict[str, Any]]
) -> None:
    real = recorded("Contracts__GET-secdef-search")["Response"]["Body"][0]
    ours = market.search("SPY")[0]
    assert ours.keys() == real.keys()
    assert ours["companyHeader"] == "SPDR S&P 500 ETF TRUST - ARCA"


def test_contract_info_matches_the_recording(
    market: Market, recorded: Callable[[str], dict[str, Any]]
) -> None:
    real = recorded("Contracts__GET-contract-info")["Response"]["Body"]
    ours = market.contract_info(SPY)
    assert ours is not None
    assert ours.keys() == real.keys()
    for key in ("symbol", "con_id", "instrument_type", "currency", "r_t_h", "exchange"):
        assert ours[key] == real[key]


def test_derivative_info_carries_multiplier_and_expiry(market: Market) -> None:
    option = market.contract_info(AAPL_CALL)
    future = market.contract_info(ES)
    assert option is not None
    assert future is not None
    assert (option["multiplier"], option["right"], option["underlying_con_id"]) == (
        "100", "CALL", AAPL,
    )  # fmt: skip
    assert (future["multiplier"], future["expiry_full"]) == ("50", "20261218")


def test_unknown_conid_has_no_info(market: Market) -> None:
    assert market.contract_info(1) is None
