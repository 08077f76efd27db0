"""Security definitions beyond search: ``/trsrv/*``, ``/iserver/secdef/info``, contract
rules and trading schedules, shaped like the examples in IBKR's spec.

Pure functions of ``Instrument``s (and the clock reading where a date matters); the
``Market`` decides which instruments a request names.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Sequence
from typing import Any

from ibkr_sim.hours import NEW_YORK
from ibkr_sim.instruments import UNIVERSE, Instrument
from ibkr_sim.options import optionable

__all__ = [
    "classification",
    "contract_rules",
    "future_entries",
    "secdef_info_row",
    "stock_entries",
    "trading_schedule",
    "trsrv_secdef_row",
]

_CLASSES: dict[str, tuple[str, str, str, str]] = {
    # symbol: sector, group, sector group, type
    "AAPL": ("Technology", "Computers", "Computers", "COMMON"),
    "IBM": ("Technology", "Computers", "Computer Services", "COMMON"),
    "MSFT": ("Technology", "Software", "Applications Software", "COMMON"),
    "SPY": ("Funds", "Equity Fund", "Growth-Large Cap", "ETF"),
    "QQQ": ("Funds", "Equity Fund", "Growth-Large Cap", "ETF"),
}
_ORDER_TYPES = ["limit", "midprice", "market", "stop", "stop_limit", "trailing_stop",
                "trailing_stop_limit"]  # fmt: skip
_SCHEDULE_DAYS = 7


def classification(instrument: Instrument) -> tuple[str, str, str, str]:
    """(sector, group, sector group, type); ``Others`` for what has no industry."""
    if instrument.sec_type == "STK":
        return _CLASSES.get(instrument.symbol, ("Others", "Others", "Others", "COMMON"))
    return ("Others", "Others", "Others", "")


def _increment(instrument: Instrument) -> dict[str, Any]:
    digits = instrument.decimals
    return {
        "incrementRules": [{"lowerEdge": 0.0, "increment": instrument.tick}],
        "displayRule": {
            "magnification": 0,
            "displayRuleStep": [{"decimalDigits": digits, "lowerEdge": 0.0, "wholeDigits": 4}],
        },
    }


def trsrv_secdef_row(instrument: Instrument) -> dict[str, Any]:
    """One element of ``GET /trsrv/secdef``'s ``secdef`` list."""
    sector, group, sector_group, kind = classification(instrument)
    option = instrument.sec_type == "OPT"
    return {
        **_increment(instrument),
        "conid": instrument.conid,
        "currency": instrument.currency,
        "time": 0,
        "chineseName": "",
        "allExchanges": instrument.valid_exchanges,
        "listingExchange": instrument.listing_exchange,
        "countryCode": "US",
        "name": instrument.company_name,
        "assetClass": instrument.sec_type,
        "expiry": instrument.expiry,
        "lastTradingDay": instrument.expiry,
        "group": group,
        "putOrCall": (instrument.right or "")[:1] or None,
        "sector": sector,
        "sectorGroup": sector_group,
        "strike": f"{instrument.strike or 0:g}",
        "ticker": instrument.symbol,
        "undConid": instrument.underlying_conid,
        "multiplier": instrument.multiplier if instrument.sec_type in ("OPT", "FUT") else 0.0,
        "type": kind,
        "hasOptions": optionable(instrument.conid),
        "fullName": instrument.local_symbol if option else instrument.symbol,
        "isUS": True,
        "isEventContract": False,
    }


def secdef_info_row(instrument: Instrument) -> dict[str, Any]:
    """One element of ``GET /iserver/secdef/info`` (IBKR's docs: a list of these)."""
    option = instrument.sec_type == "OPT"
    return {
        "conid": instrument.conid,
        "ticker": instrument.symbol,
        "symbol": instrument.symbol,
        "secType": instrument.sec_type,
        "listingExchange": instrument.listing_exchange,
        "exchange": "SMART" if instrument.sec_type in ("STK", "OPT") else instrument.exchange,
        "companyName": instrument.company_name,
        "currency": instrument.currency,
        "validExchanges": instrument.valid_exchanges,
        "priceRendering": None,
        "maturityDate": instrument.expiry,
        "right": (instrument.right or "?")[:1],
        "strike": instrument.strike or 0.0,
        "cusip": None,
        "coupon": "No Coupon",
        "desc1": instrument.symbol,
        "desc2": instrument.text or "",
        "multiplier": f"{instrument.multiplier:g}" if option else None,
        "tradingClass": instrument.trading_class,
        "showPrips": False,
    }


def stock_entries(symbols: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """``GET /trsrv/stocks``: per symbol asked, its stock contracts (unknown: left out)."""
    answer: dict[str, list[dict[str, Any]]] = {}
    for symbol in symbols:
        found = [i for i in UNIVERSE.values() if i.sec_type == "STK" and i.symbol == symbol]
        if found:
            answer[symbol] = [
                {
                    "name": i.company_name,
                    "chineseName": "",
                    "assetClass": "STK",
                    "contracts": [{"conid": i.conid, "exchange": i.exchange, "isUS": True}],
                }
                for i in found
            ]
    return answer


def future_entries(symbols: Iterable[str], now: float) -> dict[str, list[dict[str, Any]]]:
    """``GET /trsrv/futures``: per symbol asked, its non-expired futures (unknown: left
    out)."""
    today = int(_dt.datetime.fromtimestamp(now, NEW_YORK).strftime("%Y%m%d"))
    answer: dict[str, list[dict[str, Any]]] = {}
    for symbol in symbols:
        rows = []
        for i in UNIVERSE.values():
            if i.sec_type != "FUT" or i.symbol != symbol or not i.expiry:
                continue
            expiry = int(i.expiry)
            if expiry < today:
                continue
            expires = _dt.date(expiry // 10000, expiry // 100 % 100, expiry % 100)
            last_day = int((expires - _dt.timedelta(days=1)).strftime("%Y%m%d"))
            rows.append(
                {
                    "symbol": i.symbol,
                    "conid": i.conid,
                    "underlyingConid": i.underlying_conid,
                    "expirationDate": expiry,
                    "ltd": last_day,
                    "shortFuturesCutOff": last_day,
                    "longFuturesCutOff": last_day,
                }
            )
        if rows:
            answer[symbol] = rows
    return answer


def trading_schedule(instrument: Instrument, now: float) -> list[dict[str, Any]]:
    """``GET /trsrv/secdef/schedule``: the venue and its next ``_SCHEDULE_DAYS`` trading
    dates (New York times, ``HHMM``)."""
    schedules = []
    for session in _next_sessions(instrument, now):
        opens = _dt.datetime.fromtimestamp(session.open, NEW_YORK).strftime("%H%M")
        closes = _dt.datetime.fromtimestamp(session.close, NEW_YORK).strftime("%H%M")
        schedules.append(
            {
                "clearingCycleEndTime": closes,
                "tradingScheduleDate": session.date.strftime("%Y%m%d"),
                "sessions": [{"openingTime": opens, "closingTime": closes, "prop": "LIQUID"}],
                "tradingtimes": [
                    {"openingTime": opens, "closingTime": closes, "cancelDayOrders": "Y"}
                ],
            }
        )
    return [
        {
            "id": f"p{instrument.conid}",
            "tradeVenueId": f"v{instrument.conid}",
            "exchange": instrument.exchange,
            "description": instrument.exchange,
            "timezone": "America/New_York",
            "schedules": schedules,
        }
    ]


def _next_sessions(instrument: Instrument, now: float) -> list[Any]:
    sessions = instrument.hours.sessions_forwards(now)
    return [next(sessions) for _ in range(_SCHEDULE_DAYS)]


def contract_rules(
    instrument: Instrument, last: float, accounts: Sequence[str], *, is_buy: bool
) -> dict[str, Any]:
    """``POST /iserver/contract/rules``: what orders the contract takes."""
    price = f"{last:.{instrument.decimals}f}"
    size = float(instrument.size_unit if instrument.sec_type == "STK" else 1)
    return {
        "algoEligible": instrument.sec_type in ("STK", "OPT"),
        "allOrNoneEligible": instrument.sec_type == "STK",
        "overnightEligible": False,
        "costReport": False,
        "canTradeAcctIds": list(accounts),
        "error": None,
        "orderTypes": list(_ORDER_TYPES),
        "ibAlgoTypes": ["limit", "stop_limit", "trailing_stop_limit"],
        "fraqTypes": ["limit", "market", "stop", "stop_limit"]
        if instrument.sec_type == "STK"
        else [],
        "forceOrderPreview": False,
        "cqtTypes": ["limit", "market", "stop", "stop_limit"],
        "orderDefaults": {"LMT": {"LP": price}},
        "orderTypesOutside": ["limit", "stop_limit"],
        "defaultSize": size,
        "cashSize": 0.0,
        "sizeIncrement": size,
        "tifTypes": ["IOC/MARKET,LIMIT,MIDPRICE,a", "GTC/o,a", "OPG/LIMIT,MARKET,a", "DAY/o,a"],
        "tifDefaults": {
            "TIF": "DAY",
            "SIZE": f"{size:.2f}",
            "DEFAULT_ACCT": accounts[0],
            "PMALGO": True,
        },
        "limitPrice": float(price),
        "stopprice": float(price),
        "orderOrigination": None,
        "preview": True,
        "displaySize": None,
        "fraqInt": 4,
        "cashCcy": instrument.currency,
        "cashQtyIncr": 500,
        "priceMagnifier": None,
        "negativeCapable": False,
        "incrementType": 1,
        "incrementRules": [{"lowerEdge": 0.0, "increment": instrument.tick}],
        "hasSecondary": True,
        "increment": instrument.tick,
        "incrementDigits": instrument.decimals,
        "isBuy": is_buy,
    }
