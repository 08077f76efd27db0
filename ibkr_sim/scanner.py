"""The market scanner: ``/iserver/scanner/params`` and ``/iserver/scanner/run`` over the
simulated universe.

A scan ranks the instruments of one instrument class (``STK`` US stocks, ``ETF.EQ.US``
equity ETFs, ``FUT.US`` US futures) in a location of that class by the scan's measure,
after the filters, and answers IBKR's row shape with the measure as ``scan_data``.
An unknown instrument, location, scan type or filter code is a 400, as a request the
parameters do not allow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ibkr_sim.formatting import format_volume
from ibkr_sim.instruments import UNIVERSE, Instrument
from ibkr_sim.market import Market, Quote
from ibkr_sim.refusal import Refusal

__all__ = ["SCAN_TYPES", "run_scan", "scanner_params"]

_ETFS = frozenset({756733, 320227571})
_INSTRUMENTS: dict[str, tuple[str, Callable[[Instrument], bool], dict[str, str]]] = {
    # type: display name, membership, locations (type → display name)
    "STK": (
        "US Stocks",
        lambda i: i.sec_type == "STK" and i.conid not in _ETFS,
        {"STK.US.MAJOR": "Listed/NASDAQ", "STK.NASDAQ": "NASDAQ", "STK.NYSE": "NYSE"},
    ),
    "ETF.EQ.US": (
        "US Equity ETFs",
        lambda i: i.conid in _ETFS,
        {"ETF.EQ.US.MAJOR": "US Equity ETFs"},
    ),
    "FUT.US": (
        "US Futures",
        lambda i: i.sec_type == "FUT",
        {"FUT.US": "US Futures", "FUT.CME": "CME"},
    ),
}


@dataclass(frozen=True)
class _ScanType:
    display_name: str
    column: str
    key: Callable[[Quote], float]
    descending: bool
    show: Callable[[Quote], str]


def _change(quote: Quote) -> float:
    return quote.last / quote.prior_close - 1


def _percent(quote: Quote) -> str:
    return f"{_change(quote):+.2%}"


SCAN_TYPES: dict[str, _ScanType] = {
    "TOP_PERC_GAIN": _ScanType("Top % Gainers", "Chg%", _change, True, _percent),
    "TOP_PERC_LOSE": _ScanType("Top % Losers", "Chg%", _change, False, _percent),
    "MOST_ACTIVE": _ScanType(
        "Most Active", "Volume", lambda q: q.volume, True, lambda q: format_volume(q.volume)
    ),
    "HOT_BY_PRICE": _ScanType(
        "Hot by Price", "Price", lambda q: q.last, True, lambda q: f"{q.last:g}"
    ),
}
"""Scan code → how it ranks."""

_FILTERS: dict[str, tuple[str, Callable[[Quote, float], bool]]] = {
    "priceAbove": ("Price Above", lambda q, v: q.last > v),
    "priceBelow": ("Price Below", lambda q, v: q.last < v),
    "volumeAbove": ("Volume Above", lambda q, v: q.volume > v),
    "changePercAbove": ("Change % Above", lambda q, v: _change(q) * 100 > v),
    "changePercBelow": ("Change % Below", lambda q, v: _change(q) * 100 < v),
}


def scanner_params() -> dict[str, Any]:
    """``GET /iserver/scanner/params``: what ``run_scan`` accepts."""
    return {
        "scan_type_list": [
            {"display_name": scan.display_name, "code": code, "instruments": list(_INSTRUMENTS)}
            for code, scan in SCAN_TYPES.items()
        ],
        "instrument_list": [
            {"display_name": name, "type": kind, "filters": list(_FILTERS)}
            for kind, (name, _, _) in _INSTRUMENTS.items()
        ],
        "filter_list": [
            {"group": code, "display_name": name, "code": code, "type": "non-range"}
            for code, (name, _) in _FILTERS.items()
        ],
        "location_tree": [
            {
                "display_name": name,
                "type": kind,
                "locations": [
                    {"display_name": place, "type": code, "locations": []}
                    for code, place in locations.items()
                ],
            }
            for kind, (name, _, locations) in _INSTRUMENTS.items()
        ],
    }


def run_scan(
    market: Market,
    instrument: str,
    scan_type: str,
    location: str,
    filters: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """``POST /iserver/scanner/run``: the ranked contracts, best first."""
    if instrument not in _INSTRUMENTS:
        raise Refusal(f"Bad Request: unknown scanner instrument {instrument!r}")
    _, member, locations = _INSTRUMENTS[instrument]
    if location not in locations and location != instrument:
        raise Refusal(f"Bad Request: location {location!r} is not one of {instrument}'s")
    scan = SCAN_TYPES.get(scan_type)
    if scan is None:
        raise Refusal(f"Bad Request: unknown scan type {scan_type!r}")
    for code, _ in filters:
        if code not in _FILTERS:
            raise Refusal(f"Bad Request: unknown scanner filter {code!r}")
    candidates = [i for i in UNIVERSE.values() if member(i) and _located(i, location)]
    quotes = [(i, market.quote(i.conid)) for i in candidates]
    passing = [
        (i, q) for i, q in quotes if all(_FILTERS[code][1](q, value) for code, value in filters)
    ]
    passing.sort(key=lambda pair: scan.key(pair[1]), reverse=scan.descending)
    return {
        "contracts": [
            {
                "server_id": str(rank),
                "column_name": scan.column,
                "symbol": i.symbol,
                "conidex": str(i.conid),
                "con_id": i.conid,
                "available_chart_periods": "#R|1",
                "company_name": i.company_name,
                "scan_data": scan.show(q),
                "contract_description_1": i.local_symbol or i.symbol,
                "listing_exchange": i.listing_exchange,
                "sec_type": i.sec_type,
            }
            for rank, (i, q) in enumerate(passing)
        ],
        "scan_data_column_name": scan.column,
    }


def _located(instrument: Instrument, location: str) -> bool:
    """Exchange locations (``STK.NYSE``) hold that exchange's listings; wider ones all."""
    place = location.split(".")[-1]
    if place in ("NASDAQ", "NYSE", "CME"):
        return instrument.exchange == place
    return True
