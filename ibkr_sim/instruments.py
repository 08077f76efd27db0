"""The simulated universe: a handful of real contracts with their real conids.

Each ``Instrument`` carries what the gateway reports about it (symbol, exchanges, names)
and what the simulation needs (timetable, tick, starting price, volatility, volume).
Stocks and ETFs use IBKR's published conids (IBKR-FACTS §9); the option and the future
are illustrative contracts with made-up conids.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType

from ibkr_sim.hours import FUTURES_HOURS, FX_HOURS, STOCK_HOURS, Hours

__all__ = ["UNIVERSE", "Instrument", "find_instrument"]


@dataclass(frozen=True)
class Instrument:
    """One tradable contract."""

    conid: int
    symbol: str
    sec_type: str  # STK, OPT, FUT, CASH
    currency: str
    exchange: str  # primary listing, as in search's "description"
    listing_exchange: str  # as in order texts: "NASDAQ.NMS"
    company_name: str
    valid_exchanges: str
    hours: Hours
    tick: float
    base_price: float
    daily_volatility: float
    daily_volume: float
    size_unit: int  # quotes come in multiples of this (100 shares, 100,000 EUR)
    multiplier: float = 1.0
    local_symbol: str = ""
    trading_class: str = ""
    underlying_conid: int = 0
    expiry: str | None = None  # YYYYMMDD for options and futures
    strike: float | None = None
    right: str | None = None  # "CALL" / "PUT"
    text: str | None = None  # contract info's human label of derivatives

    @cached_property
    def decimals(self) -> int:
        """Digits after the decimal point in this instrument's prices."""
        text = f"{self.tick:.10f}".rstrip("0")
        return max(len(text.split(".")[1]), 2)

    def round_to_tick(self, price: float) -> float:
        return round(round(price / self.tick) * self.tick, self.decimals)


def _stock(
    conid: int,
    symbol: str,
    name: str,
    exchange: str,
    listing: str,
    price: float,
    volume: float,
) -> Instrument:
    return Instrument(
        conid=conid,
        symbol=symbol,
        sec_type="STK",
        currency="USD",
        exchange=exchange,
        listing_exchange=listing,
        company_name=name,
        valid_exchanges=f"SMART,AMEX,NYSE,CBOE,ARCA,NASDAQ,{exchange}",
        hours=STOCK_HOURS,
        tick=0.01,
        base_price=price,
        daily_volatility=0.015,
        daily_volume=volume,
        size_unit=100,
        local_symbol=symbol,
        trading_class=symbol if exchange != "NASDAQ" else "NMS",
    )


_ALL = (
    _stock(265598, "AAPL", "APPLE INC", "NASDAQ", "NASDAQ.NMS", 230.0, 55e6),
    _stock(8314, "IBM", "INTL BUSINESS MACHINES CORP", "NYSE", "NYSE", 245.0, 4e6),
    _stock(272093, "MSFT", "MICROSOFT CORP", "NASDAQ", "NASDAQ.NMS", 420.0, 22e6),
    _stock(756733, "SPY", "SPDR S&P 500 ETF TRUST", "ARCA", "ARCA", 650.0, 60e6),
    _stock(320227571, "QQQ", "INVESCO QQQ TRUST SERIES 1", "NASDAQ", "NASDAQ.NMS", 580.0, 40e6),
    Instrument(
        conid=12087792,
        symbol="EUR",
        sec_type="CASH",
        currency="USD",
        exchange="IDEALPRO",
        listing_exchange="IDEALPRO",
        company_name="European Monetary Union Euro",
        valid_exchanges="IDEALPRO",
        hours=FX_HOURS,
        tick=0.00005,
        base_price=1.08,
        daily_volatility=0.005,
        daily_volume=2e9,
        size_unit=100_000,
        local_symbol="EUR.USD",
        trading_class="EUR.USD",
    ),
    Instrument(
        conid=766914123,
        symbol="AAPL",
        sec_type="OPT",
        currency="USD",
        exchange="SMART",
        listing_exchange="CBOE",
        company_name="APPLE INC",
        valid_exchanges="SMART,AMEX,CBOE,PHLX,ISE,BOX,MIAX",
        hours=STOCK_HOURS,
        tick=0.01,
        base_price=18.5,
        daily_volatility=0.04,
        daily_volume=25e3,
        size_unit=10,
        multiplier=100.0,
        local_symbol="AAPL  261218C00250000",
        trading_class="AAPL",
        underlying_conid=265598,
        expiry="20261218",
        strike=250.0,
        right="CALL",
        text="DEC 18 '26 250 Call",
    ),
    Instrument(
        conid=649180695,
        symbol="ES",
        sec_type="FUT",
        currency="USD",
        exchange="CME",
        listing_exchange="CME",
        company_name="E-mini S&P 500",
        valid_exchanges="CME,QBALGO",
        hours=FUTURES_HOURS,
        tick=0.25,
        base_price=6550.0,
        daily_volatility=0.01,
        daily_volume=1.5e6,
        size_unit=1,
        multiplier=50.0,
        local_symbol="ESZ6",
        trading_class="ES",
        underlying_conid=11004968,
        expiry="20261218",
        text="DEC 18 '26",
    ),
)

UNIVERSE: Mapping[int, Instrument] = MappingProxyType({i.conid: i for i in _ALL})
"""Every simulated contract by conid."""


def find_instrument(conid: int) -> Instrument | None:
    """A contract of the universe, or of an option chain (``ibkr_sim.options``)."""
    found = UNIVERSE.get(conid)
    if found is None:
        from ibkr_sim.options import option_instrument  # options builds on this module

        return option_instrument(conid)
    return found
