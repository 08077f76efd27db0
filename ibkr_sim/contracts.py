"""Contract search and contract info, shaped like the recorded gateway answers.

``/iserver/secdef/search`` answers a list of entries whose ``conid`` is a *string* and
whose ``sections`` list the security types available; ``/iserver/contract/{conid}/info``
answers one flat object with ``con_id`` as an int. A stock's entry advertises its option
months in an ``OPT`` section. Simplification: searching with ``sec_type="OPT"`` or
``"FUT"`` returns the derivative contracts themselves (the real gateway needs further
secdef calls for that), so every simulated contract is reachable through search.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from typing import Any

from ibkr_sim.instruments import UNIVERSE, Instrument
from ibkr_sim.options import listed_months, optionable

__all__ = ["contract_info", "search_contracts"]


def search_contracts(
    symbol: str, sec_type: str | None = None, *, name: bool = False, now: float = 0.0
) -> list[dict[str, Any]]:
    """Entries matching ``symbol`` (or a company name containing it when ``name``)."""
    wanted = symbol.strip().upper()
    if not wanted:
        return []
    kind = sec_type.upper() if sec_type else None
    matches = [
        instrument
        for instrument in UNIVERSE.values()
        if _matches(instrument, wanted, name=name)
        and (kind == instrument.sec_type if kind else instrument.sec_type != "OPT")
    ]
    return [_search_entry(instrument, now) for instrument in matches]


def contract_info(instrument: Instrument) -> dict[str, Any]:
    """The ``/iserver/contract/{conid}/info`` object of one instrument."""
    derivative = instrument.sec_type in ("OPT", "FUT")
    info: dict[str, Any] = {
        "cfi_code": "OCXXXS" if instrument.sec_type == "OPT" else "",
        "symbol": instrument.symbol,
        "cusip": None,
        "expiry_full": instrument.expiry,
        "con_id": instrument.conid,
        "maturity_date": instrument.expiry,
        "instrument_type": instrument.sec_type,
        "has_related_contracts": instrument.sec_type == "STK",
        "trading_class": instrument.trading_class,
        "valid_exchanges": instrument.valid_exchanges,
        "allow_sell_long": False,
        "is_zero_commission_security": False,
        "local_symbol": instrument.local_symbol,
        "contract_clarification_type": None,
        "classifier": None,
        "currency": instrument.currency,
        "text": instrument.text,
        "underlying_con_id": instrument.underlying_conid,
        "r_t_h": instrument.sec_type in ("STK", "OPT"),
        "multiplier": f"{instrument.multiplier:g}" if derivative else None,
        "underlying_issuer": None,
        "contract_month": instrument.expiry[:6] if instrument.expiry else None,
        "company_name": instrument.company_name,
        "smart_available": instrument.sec_type in ("STK", "OPT"),
        "exchange": "SMART" if instrument.sec_type in ("STK", "OPT") else instrument.exchange,
    }
    if instrument.sec_type == "OPT":
        info["strike"] = f"{instrument.strike:g}"
        info["right"] = instrument.right
    return info


def _matches(instrument: Instrument, wanted: str, *, name: bool) -> bool:
    if name:
        return wanted in instrument.company_name.upper()
    return wanted in (instrument.symbol, instrument.local_symbol.upper())


def _search_entry(instrument: Instrument, now: float) -> dict[str, Any]:
    description = instrument.exchange if instrument.sec_type != "OPT" else instrument.text
    sections = _sections(instrument)
    months = _option_months(instrument.conid, now)
    if months:
        sections.append({"secType": "OPT", "months": months, "exchange": "SMART;AMEX;CBOE"})
    return {
        "conid": str(instrument.conid),
        "companyHeader": f"{instrument.company_name} - {description}",
        "companyName": instrument.company_name,
        "symbol": instrument.symbol,
        "description": description,
        "restricted": None,
        "sections": sections,
    }


def _sections(instrument: Instrument) -> list[dict[str, str]]:
    section = {"secType": instrument.sec_type}
    if instrument.sec_type == "FUT" and instrument.expiry:
        section["months"] = _month_code(instrument.expiry)
        section["exchange"] = instrument.exchange
    elif instrument.sec_type == "CASH":
        section["exchange"] = instrument.exchange
    return [section]


def _options_of(conid: int) -> Iterable[Instrument]:
    return (i for i in UNIVERSE.values() if i.sec_type == "OPT" and i.underlying_conid == conid)


def _option_months(conid: int, now: float) -> str:
    """The chain's listed months (``ibkr_sim.options``) and the hand-made option's."""
    months = {o.expiry[:6] for o in _options_of(conid) if o.expiry}
    if optionable(conid):
        months.update(f"{year}{month:02d}" for year, month in listed_months(now))
    return ";".join(_month_code(month + "01") for month in sorted(months))


def _month_code(yyyymmdd: str) -> str:
    """``20261218`` → ``DEC26``, the form search uses for expiry months."""
    date = _dt.datetime.strptime(yyyymmdd, "%Y%m%d").replace(tzinfo=_dt.UTC)
    return date.strftime("%b%y").upper()
